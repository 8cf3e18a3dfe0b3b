"""A small stand-in for Genesys Cloud's Platform API on 127.0.0.1, for the extractor's tests.

It speaks the API's shapes because every answer is one of the SDK's own model objects serialised by the SDK
(`ApiClient().sanitize_for_serialization`), pages the way the API does (nextUri with an `after` cursor; case
query jobs with page numbers), honours the date filters the extractor sends, and can be told to fail: a status
(with headers) for the next requests to a path, an expired token, a body that is not JSON.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import PureCloudPlatformClientV2 as sdk

CLIENT_ID, CLIENT_SECRET = "test-client", "test-secret"
ORG_ID, ORG_NAME = "org-genesys-1", "Genesys Test Org"
_SERIALISE = sdk.ApiClient().sanitize_for_serialization


def _m(model: type, **attributes: Any) -> Any:
    """An SDK model object (their constructors take no arguments) with these attributes set."""
    instance = model()
    for name, value in attributes.items():
        setattr(instance, name, value)
    return instance


def _parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Fault:
    """Answer the next `times` requests whose path starts with `path` (and method matches) like this."""

    path: str
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"message": "fault injected by the test"}'
    method: str | None = None


@dataclass
class Data:
    """What the organization holds: SDK model objects."""

    cases: list[Any] = field(default_factory=list)
    steps: dict[str, list[Any]] = field(default_factory=dict)  # case id -> its steps (one stage per case)
    workitems: dict[str, Any] = field(default_factory=dict)
    contracts: list[Any] = field(default_factory=list)
    periods: dict[str, Any] = field(default_factory=dict)  # period id -> BillingContractPeriodDetail
    invoices: list[Any] = field(default_factory=list)
    lines: dict[str, list[Any]] = field(default_factory=dict)  # invoice id -> its lines


class GenesysServer:
    """Run with `with GenesysServer(data) as server:`; server.url is the API and login base URL."""

    page_size = 2  # the server fills at most this many entities a page, whatever is asked

    def __init__(self, data: Data) -> None:
        self.data = data
        self.faults: list[Fault] = []
        self.requests: list[tuple[float, str, str]] = []  # (time, method, path with query)
        self.tokens_issued = 0
        self.expire_token_after: int | None = None  # API calls a token is good for (None: forever)
        self._calls_on_token = 0
        self._revoked = -1
        self._jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> GenesysServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def paths(self, method: str | None = None) -> list[str]:
        return [path for _, m, path in self.requests if method is None or m == method]

    # -- routing -------------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server._serve(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                server._serve(self, "POST")

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        parsed = urlparse(handler.path)
        with self._lock:
            self.requests.append((time.monotonic(), method, handler.path))
            fault = next((f for f in self.faults if parsed.path.startswith(f.path) and f.times > 0
                          and f.method in (None, method)), None)  # fmt: skip
            if fault:
                fault.times -= 1
        if fault:
            return self._send(handler, fault.status, fault.body, fault.headers)
        if parsed.path == "/oauth/token":
            return self._token(handler, raw)
        if not self._authorised(handler):
            return self._send(handler, 401, '{"message": "token expired", "code": "authentication.required"}')
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        body = json.loads(raw) if raw else None
        try:
            answer = self._route(method, parsed.path, query, body)
        except KeyError:
            return self._send(handler, 404, '{"message": "not found"}')
        return self._send(handler, 200, json.dumps(_SERIALISE(answer)))

    def _send(
        self, handler: BaseHTTPRequestHandler, status: int, body: str, headers: dict[str, str] | None = None
    ) -> None:
        payload = body.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _token(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        import base64

        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if handler.headers.get("Authorization") != expected or b"grant_type=client_credentials" not in raw:
            return self._send(handler, 401, '{"error": "invalid_client", "description": "authentication failed"}')
        with self._lock:
            self.tokens_issued += 1
            self._calls_on_token = 0
            token = f"token-{self.tokens_issued}"
        return self._send(
            handler, 200, json.dumps({"access_token": token, "token_type": "bearer", "expires_in": 86399})
        )

    def _authorised(self, handler: BaseHTTPRequestHandler) -> bool:
        with self._lock:
            if handler.headers.get("Authorization") != f"Bearer token-{self.tokens_issued}":
                return False
            if self.tokens_issued == self._revoked:
                return False
            self._calls_on_token += 1
            if self.expire_token_after is not None and self._calls_on_token > self.expire_token_after:
                self.expire_token_after = None  # the next token lasts
                self._revoked = self.tokens_issued
                return False
            return True

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        d = self.data
        if path == "/api/v2/organizations/me":
            return _m(sdk.Organization, id=ORG_ID, name=ORG_NAME)
        if method == "POST" and path == "/api/v2/casemanagement/cases/query/jobs":
            return self._start_case_job(body)
        if m := re.fullmatch(r"/api/v2/casemanagement/cases/query/jobs/([^/]+)", path):
            self._jobs[m[1]]  # a KeyError (404) for a job never started
            return _m(sdk.CaseQueryJobResponse, id=m[1], state="Succeeded")
        if m := re.fullmatch(r"/api/v2/casemanagement/cases/query/jobs/([^/]+)/results", path):
            return self._case_results(self._jobs[m[1]])
        if m := re.fullmatch(r"/api/v2/casemanagement/cases/([^/]+)/stages", path):
            if m[1] not in d.steps:
                return _m(sdk.StageListing, entities=[])
            return _m(sdk.StageListing, entities=[_m(sdk.Stage, id="5" + m[1][1:], name="Work")])
        if m := re.fullmatch(r"/api/v2/casemanagement/cases/([^/]+)/stages/([^/]+)/steps", path):
            return self._paged(sdk.StepListing, d.steps.get(m[1], []), query, path)
        if m := re.fullmatch(r"/api/v2/taskmanagement/workitems/([^/]+)", path):
            return d.workitems[m[1]]
        if path == "/api/v2/billing/contracts/invoices":
            start, end = date.fromisoformat(query["dateStart"]), date.fromisoformat(query["dateEnd"])
            chosen = [i for i in d.invoices if start <= i.date_invoiced <= end]
            return self._paged(sdk.BillingInvoiceListing, chosen, query, path)
        if m := re.fullmatch(r"/api/v2/billing/contracts/invoices/([^/]+)/lines", path):
            return self._paged(sdk.BillingInvoiceItemListing, d.lines[m[1]], query, path)
        if path == "/api/v2/billing/contracts":
            return self._paged(sdk.BillingContractListing, d.contracts, query, path)
        if m := re.fullmatch(r"/api/v2/billing/contracts/([^/]+)/billingperiods/([^/]+)", path):
            return d.periods[m[2]]
        raise KeyError(path)

    def _paged(self, listing: Any, entities: list[Any], query: dict[str, str], path: str) -> Any:
        start = int(query.get("after", "0"))
        page = entities[start : start + self.page_size]
        after = start + self.page_size
        next_uri = f"{path}?after={after}&pageSize={self.page_size}" if after < len(entities) else None
        return _m(listing, entities=page, next_uri=next_uri)

    def _start_case_job(self, body: dict[str, Any]) -> Any:
        since = None
        for item in body.get("filters") or []:
            if item["name"] == "dateCreated" and item["operator"] == "GTE":
                since = _parse_instant(item["values"][0])
        job_id = f"job-{len(self._jobs) + 1}"
        self._jobs[job_id] = {"since": since, "page": body.get("pageNumber") or 1}
        return _m(sdk.CaseQueryJobResponse, id=job_id, state="Running")

    def _case_results(self, job: dict[str, Any]) -> Any:
        chosen = [c for c in self.data.cases if job["since"] is None or c.date_created >= job["since"]]
        chosen.sort(key=lambda c: c.date_created)
        pages = max(1, -(-len(chosen) // self.page_size))
        start = (job["page"] - 1) * self.page_size
        return _m(sdk.CaseQueryJobResultsResponse, entities=chosen[start : start + self.page_size],
                                               page_size=self.page_size, page_number=job["page"],
                                               total=len(chosen), page_count=pages)  # fmt: skip


# -- building the organization's data from the SDK's models --------------------------------------------------


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def case(case_id: str, created: datetime) -> Any:
    return _m(sdk.Case, id=case_id, date_created=created, status="Open", summary=f"Case {case_id}")


def step(case_id: str, workitem_id: str | None) -> Any:
    activity = _m(sdk.WorkitemActivityReference, id=workitem_id) if workitem_id else None
    return _m(sdk.Step, id=f"step-{case_id}-{workitem_id}", name="Handle", workitem_activity=activity,
                    case=_m(sdk.CaseReference, id=case_id))  # fmt: skip


def workitem(workitem_id: str, created: datetime, closed: datetime | None, queue: str) -> Any:
    return _m(sdk.Workitem, id=workitem_id, name=workitem_id, date_created=created, date_closed=closed,
                        queue=_m(sdk.WorkitemQueueReference, id=queue))  # fmt: skip


def charge(charge_id: str, sku: str | None, name: str, org: str | None, actual: float, fairuse: float,
           overage: float, rate: float, amount: float, currency: str) -> Any:  # fmt: skip
    return _m(sdk.BillingCharge,
        id=charge_id, name=name, product=_m(sdk.BillingProduct, id=f"p-{charge_id}", sku=sku, name=name),
        organizations=[_m(sdk.NamedEntity, id=org, name=org)] if org else [],
        prepaid_quantity=0.0, fairuse_quantity=fairuse, actual_quantity=actual, overage_quantity=overage,
        overage_rate=rate, overage_charge=amount, overage_currency=currency,
    )  # fmt: skip


def period(period_id: str, start: date, end: date, status: str, charges: list[Any]) -> Any:
    return _m(sdk.BillingContractPeriodDetail, id=period_id, date_start=start, date_end=end, status=status,
                                           charges=charges)  # fmt: skip


def contract(contract_id: str, periods: list[Any]) -> Any:
    return _m(sdk.BillingContract, id=contract_id, status="Active", billing_periods=[
        _m(sdk.BillingContractPeriod, id=p.id, date_start=p.date_start, date_end=p.date_end, status=p.status)
        for p in periods
    ])  # fmt: skip


def invoice(invoice_id: str, invoiced: date, currency: str) -> Any:
    return _m(sdk.BillingInvoice, id=invoice_id, date_invoiced=invoiced, currency_iso_code=currency, amount=0.0)


def line(line_id: str, sku: str | None, name: str, org: str, quantity: int, amount: float, start: date,
         end: date) -> Any:  # fmt: skip
    return _m(sdk.BillingInvoiceItem, id=line_id, product=_m(sdk.BillingProduct, id=f"p-{line_id}", sku=sku, name=name),
                                  description=f"{name} overage", organization=_m(sdk.NamedEntity, id=org, name=org),
                                  quantity=quantity, unit_of_measure="Each", amount=amount, date_start=start,
                                  date_end=end)  # fmt: skip
