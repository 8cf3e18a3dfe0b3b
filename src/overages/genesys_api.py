"""Talking to Genesys Cloud's Platform API through its official SDK: regions, the OAuth client-credentials
grant, and one retry policy for every call (429 with Retry-After, bounded backoff on 5xx, one re-login on 401).

Every failure the caller can act on becomes an ExtractError with a one-line message naming the problem (and,
for a 403, the permission the OAuth client's role lacks).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

from overages.errors import OveragesError

T = TypeVar("T")

# Genesys Cloud's regions, by the domain its users know them by (the SDK's PureCloudRegionHosts, 269.0.0):
# the API lives at https://api.<domain>, the login at https://login.<domain>.
REGIONS: dict[str, str] = {
    "mypurecloud.com": "us-east-1",
    "mypurecloud.ie": "eu-west-1",
    "mypurecloud.com.au": "ap-southeast-2",
    "mypurecloud.jp": "ap-northeast-1",
    "mypurecloud.de": "eu-central-1",
    "usw2.pure.cloud": "us-west-2",
    "cac1.pure.cloud": "ca-central-1",
    "apne2.pure.cloud": "ap-northeast-2",
    "euw2.pure.cloud": "eu-west-2",
    "aps1.pure.cloud": "ap-south-1",
    "use2.us-gov-pure.cloud": "us-east-2 (FedRAMP)",
    "sae1.pure.cloud": "sa-east-1",
    "mec1.pure.cloud": "me-central-1",
    "apne3.pure.cloud": "ap-northeast-3",
    "euc2.pure.cloud": "eu-central-2",
    "mxc1.pure.cloud": "mx-central-1",
    "apse1.pure.cloud": "ap-southeast-1",
    "edee1.eusc-pure.cloud": "eusc-de-east-1",
}

# The permission each call needs (the SDK's documentation, "Requires ANY permissions"), named on a 403.
PERMISSIONS: dict[str, str] = {
    "organization": "(none: any valid token may read its own organization)",
    "billing contracts": "billing:subscription:view",
    "billing period": "billing:subscription:view",
    "invoices": "billing:subscription:view",
    "invoice lines": "billing:subscription:view",
    "case query job": "caseManagement:queryJob:add",
    "case query job status": "caseManagement:queryJob:view",
    "case query results": "caseManagement:queryJobResults:view",
    "case stages": "caseManagement:stage:view",
    "case steps": "caseManagement:step:view",
    "workitem": "workitems:workitem:view",
}

MAX_RATE_LIMITED = 5  # 429s in a row for one call before giving up
MAX_SERVER_ERRORS = 4  # 5xx (and dropped connections) in a row for one call before giving up
BACKOFF_SECONDS = 0.5  # first wait after a 5xx; doubles each time, capped below
BACKOFF_CAP_SECONDS = 8.0
RETRY_AFTER_CAP_SECONDS = 120.0


class ExtractError(OveragesError):
    """An extraction that cannot go on; nothing is landed."""


def resolve_hosts(region: str | None, api_host: str | None, login_host: str | None) -> tuple[str, str]:
    """The API and login base URLs: from the region, each overridable by a full URL."""
    if api_host:
        api = api_host.rstrip("/")
    else:
        if not region:
            raise ExtractError("no Genesys Cloud region: set GENESYS_CLOUD_REGION (e.g. mypurecloud.com, "
                               "mypurecloud.ie, usw2.pure.cloud) or --region")  # fmt: skip
        domain = region.strip().lower().removeprefix("https://").removeprefix("api.").rstrip("/")
        if domain not in REGIONS:
            raise ExtractError(f"unknown Genesys Cloud region '{region}': use one of {', '.join(REGIONS)}")
        api = f"https://api.{domain}"
    if not re.match(r"^https?://[^/\s]+", api):
        raise ExtractError(f"GENESYS_CLOUD_API_HOST must be a full URL such as https://api.mypurecloud.com, "
                           f"not '{api_host}'")  # fmt: skip
    login = (login_host or re.sub(r"//api\.", "//login.", api)).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", login):
        raise ExtractError(f"GENESYS_CLOUD_LOGIN_HOST must be a full URL such as https://login.mypurecloud.com, "
                           f"not '{login_host}'")  # fmt: skip
    return api, login


def cursor_after(next_uri: str | None) -> str | None:
    """The `after` cursor of a listing's nextUri (None on the last page)."""
    if not next_uri:
        return None
    values = parse_qs(urlparse(next_uri).query).get("after")
    return values[0] if values else None


@dataclass
class Client:
    """An authenticated SDK client with the retry policy; counts what it fetched per endpoint."""

    api_host: str
    login_host: str
    client_id: str
    client_secret: str
    progress: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))
    sleep: Callable[[float], None] = time.sleep
    api_client: Any = None
    fetched: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def __post_init__(self) -> None:
        import PureCloudPlatformClientV2 as sdk
        import urllib3

        login_host = self.login_host

        class _ApiClient(sdk.ApiClient):  # type: ignore[misc, name-defined]
            # The SDK derives the login URL from the API URL; a private deployment or a test names its own.
            def get_conf_url(self, path_type: str, base_path: str) -> str:
                if path_type == "login":
                    return login_host
                return super().get_conf_url(path_type, base_path)

        self.api_client = _ApiClient(host=self.api_host)
        # The SDK's urllib3 pool retries some statuses by itself, out of sight; this policy owns retries, so
        # the pool only retries a connection that could not be made.
        pool = self.api_client.get_http_client().rest_client.pool_manager
        pool.connection_pool_kw["retries"] = urllib3.util.Retry(
            total=2, connect=2, read=0, status=0, other=0, redirect=2, respect_retry_after_header=False
        )
        self._sdk = sdk

    # -- authentication -------------------------------------------------------------------------------

    def authenticate(self) -> None:
        def login() -> Any:
            return self.api_client.get_client_credentials_token(self.client_id, self.client_secret)

        self._with_retries("login", login, expect_json=False, on_401=self._refused)

    def _refused(self, error: Any) -> None:
        raise ExtractError(f"Genesys Cloud refused the client credentials at {self.login_host} (HTTP {error.status}): "
                           "check GENESYS_CLOUD_CLIENT_ID, GENESYS_CLOUD_CLIENT_SECRET and the region")  # fmt: skip

    # -- calls ----------------------------------------------------------------------------------------

    def api(self, name: str) -> Any:
        return getattr(self._sdk, name)(self.api_client)

    def call(self, endpoint: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One API call under the retry policy; a 401 logs in again once and repeats the call."""
        renewed = False

        def on_401(error: Any) -> None:
            nonlocal renewed
            if renewed:
                raise ExtractError(f"Genesys Cloud rejected a freshly issued token for {endpoint} (HTTP 401): "
                                   "check that the OAuth client is active")  # fmt: skip
            renewed = True
            self.progress(f"  {endpoint}: token expired, logging in again")
            self.authenticate()

        return self._with_retries(endpoint, lambda: function(*args, **kwargs), expect_json=True, on_401=on_401)

    def count(self, endpoint: str, records: int) -> None:
        self.fetched[endpoint] = self.fetched.get(endpoint, 0) + records

    def _with_retries(self, endpoint: str, attempt: Callable[[], T], *, expect_json: bool,
                      on_401: Callable[[Any], None]) -> T:  # fmt: skip
        from PureCloudPlatformClientV2.rest import ApiException

        rate_limited = server_errors = 0
        while True:
            self.requests += 1
            self.api_client.last_response = None
            try:
                result = attempt()
            except ApiException as error:
                status = error.status or 0
                if status == 429 and rate_limited < MAX_RATE_LIMITED:
                    rate_limited += 1
                    wait = _retry_after(error) or _backoff(rate_limited)
                    self.progress(f"  {endpoint}: rate limited (429), waiting {wait:g} s")
                    self.sleep(wait)
                    continue
                if (status >= 500 or status == 0) and server_errors < MAX_SERVER_ERRORS:
                    server_errors += 1
                    wait = _backoff(server_errors)
                    what = f"HTTP {status}" if status else "no connection"
                    self.progress(f"  {endpoint}: {what}, retrying in {wait:g} s ({server_errors}/{MAX_SERVER_ERRORS})")
                    self.sleep(wait)
                    continue
                if status in (400, 401) and endpoint == "login":
                    on_401(error)
                if status == 401:
                    on_401(error)
                    continue
                raise _error_for(endpoint, error, self.api_host) from None
            except (ValueError, TypeError, AttributeError, KeyError) as error:
                # The SDK could not read the answer (a body that is not the JSON it expects).
                raise _unreadable(endpoint, self.api_client, error) from None
            if expect_json:
                _require_json(endpoint, self.api_client)
            return result


def _retry_after(error: Any) -> float | None:
    headers = dict(error.headers or {})
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return min(max(float(value), 0.0), RETRY_AFTER_CAP_SECONDS) if value is not None else None
    except ValueError:
        return None


def _backoff(attempt: int) -> float:
    return min(BACKOFF_SECONDS * 2 ** (attempt - 1), BACKOFF_CAP_SECONDS)


def _error_for(endpoint: str, error: Any, api_host: str) -> ExtractError:
    status = error.status or 0
    if status == 403:
        permission = PERMISSIONS.get(endpoint, "see docs/genesys-extract.md")
        return ExtractError(f"permission missing: the OAuth client's role needs {permission} to read {endpoint} "
                            "(HTTP 403)")  # fmt: skip
    if status == 0:
        reason = (str(error.reason or "").strip().splitlines() or ["no answer"])[0]
        return ExtractError(f"cannot reach Genesys Cloud at {api_host} for {endpoint}: {reason[:160]}")
    if status == 429:
        return ExtractError(f"Genesys Cloud kept rate-limiting {endpoint} (HTTP 429, {MAX_RATE_LIMITED} retries): "
                            "try again later")  # fmt: skip
    if status >= 500:
        return ExtractError(f"Genesys Cloud failed {endpoint} {MAX_SERVER_ERRORS + 1} times (HTTP {status}): "
                            "try again later")  # fmt: skip
    return ExtractError(f"Genesys Cloud answered {endpoint} with HTTP {status} {error.reason or ''}".rstrip())


def _unreadable(endpoint: str, api_client: Any, error: Exception) -> ExtractError:
    response = getattr(api_client, "last_response", None)
    body = getattr(response, "data", None)
    if response is None:  # the SDK refused the request before sending it (a value it does not accept)
        first = (str(error).strip().splitlines() or [""])[0]
        return ExtractError(f"the SDK refused the request for {endpoint}: {first[:200]}")
    return ExtractError(f"Genesys Cloud's answer to {endpoint} could not be read ({type(error).__name__}"
                        f"{': not JSON' if body is not None and not _is_json(body) else ''})")  # fmt: skip


def _require_json(endpoint: str, api_client: Any) -> None:
    response = getattr(api_client, "last_response", None)
    body = getattr(response, "data", None)
    if body is not None and not _is_json(body):
        raise ExtractError(f"Genesys Cloud's answer to {endpoint} is not JSON: nothing landed")


def _is_json(body: str | bytes) -> bool:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body.strip():
        return True
    try:
        json.loads(body)
    except ValueError:
        return False
    return True
