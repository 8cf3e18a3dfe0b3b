"""`overages extract genesys`, end to end: the real CLI and the real SDK against a stand-in API on 127.0.0.1
(genesys_server.py, answers built from the SDK's own models). Nothing leaves the machine."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

import genesys_server as gs
from conftest import OVERAGES, PROJECT_DIR, query, raw_file

CASE_SKU = "GC-170-NV-CASEMGMT"
# Case ids are UUIDs: the SDK refuses any other in a path.
CASE_1, CASE_2, CASE_3, CASE_4 = (f"0000000{n}-0000-4000-8000-00000000000{n}" for n in range(1, 5))


def _extract(server: gs.GenesysServer | None, warehouse: Path, *args: str, secret: str = gs.CLIENT_SECRET,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    base = {k: v for k, v in os.environ.items() if not k.startswith("GENESYS_CLOUD_")}
    base.update({"DO_NOT_TRACK": "1", "WAREHOUSE_PATH": str(warehouse), "GENESYS_CLOUD_CLIENT_ID": gs.CLIENT_ID,
                 "GENESYS_CLOUD_CLIENT_SECRET": secret, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})  # fmt: skip
    if server is not None:
        base["GENESYS_CLOUD_API_HOST"] = server.url
    base.update(env or {})
    return subprocess.run([OVERAGES, "extract", "genesys", *args], cwd=PROJECT_DIR, env=base, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def _org_data(now: datetime) -> gs.Data:
    """Three cases (two pages), four workitems (one open), two contracts (two pages) with a closed and an open
    period, three invoices (two pages), and an invoice of three lines (two pages)."""
    data = gs.Data()
    data.cases = [gs.case(CASE_1, gs.utc("2026-10-03T09:00:00")), gs.case(CASE_2, gs.utc("2026-10-15T12:30:00")),
                  gs.case(CASE_3, gs.utc("2026-11-02T08:00:00"))]  # fmt: skip
    data.steps = {CASE_1: [gs.step(CASE_1, "wi-1"), gs.step(CASE_1, None)],
                  CASE_2: [gs.step(CASE_2, "wi-2"), gs.step(CASE_2, "wi-3"), gs.step(CASE_2, "wi-4")]}  # fmt: skip
    data.workitems = {
        "wi-1": gs.workitem("wi-1", gs.utc("2026-10-03T09:05:00"), gs.utc("2026-10-04T10:00:00"), "queue-a"),
        "wi-2": gs.workitem("wi-2", gs.utc("2026-10-15T12:31:00"), gs.utc("2026-10-15T15:00:00"), "queue-b"),
        "wi-3": gs.workitem("wi-3", gs.utc("2026-10-15T12:32:00"), None, "queue-b"),
        "wi-4": gs.workitem("wi-4", gs.utc("2026-10-16T08:00:00"), gs.utc("2026-10-17T08:00:00"), "queue-a"),
    }
    closed = gs.period("bp-2026-10", date(2026, 10, 1), date(2026, 10, 31), "Closed", [
        gs.charge("ch-1", CASE_SKU, "Case Management", "org-a", 180, 150, 30, 0.4, 12.0, "USD"),
        gs.charge("ch-2", None, "AI Tokens", None, 300, 250, 50, 1.0, 50.0, "USD"),
    ])  # fmt: skip
    open_ = gs.period("bp-2026-11", date(2026, 11, 1), date(2026, 11, 30), "Open", [
        gs.charge("ch-3", CASE_SKU, "Case Management", "org-a", 20, 150, 0, 0.4, 0.0, "USD"),
    ])  # fmt: skip
    data.periods = {p.id: p for p in (closed, open_)}
    data.contracts = [gs.contract("contract-1", [closed]), gs.contract("contract-2", []),
                      gs.contract("contract-3", [open_])]  # fmt: skip
    data.invoices = [gs.invoice("inv-1", date(2026, 11, 5), "USD"), gs.invoice("inv-2", date(2026, 11, 6), "USD"),
                     gs.invoice("inv-3", date(2026, 11, 7), "USD")]  # fmt: skip
    data.lines = {
        "inv-1": [gs.line("l-1", CASE_SKU, "Case Management", "org-a", 30, 12.0, date(2026, 10, 1), date(2026, 10, 31)),
                  gs.line("l-2", None, "AI Tokens", "org-a", 50, 50.0, date(2026, 10, 1), date(2026, 10, 31)),
                  gs.line("l-3", None, "Wallboard Accounts", "org-a", 1, 18.0, date(2026, 10, 1), date(2026, 10, 31))],
        "inv-2": [],
        "inv-3": [],
    }  # fmt: skip
    return data


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _counts(warehouse: Path) -> dict[str, int]:
    return {t: query(raw_file(warehouse), f"select count(*) from raw.{t}")[0][0]
            for t in ("cases", "case_workitems", "genesys_billing_charges", "genesys_invoice_lines")}  # fmt: skip


def test_every_page_lands_and_a_second_run_fetches_only_what_changed(tmp_path: Path, now: datetime) -> None:
    warehouse = tmp_path / "wh.duckdb"
    data = _org_data(now)
    with gs.GenesysServer(data) as server:
        done = _extract(server, warehouse)
        assert done.returncode == 0, done.stderr
        assert query(raw_file(warehouse), "select case_id, org_id, created_at from raw.cases order by 1") == [
            (CASE_1, gs.ORG_ID, datetime(2026, 10, 3, 9)), (CASE_2, gs.ORG_ID, datetime(2026, 10, 15, 12, 30)),
            (CASE_3, gs.ORG_ID, datetime(2026, 11, 2, 8))]  # fmt: skip
        assert query(raw_file(warehouse), "select workitem_id, case_id, queue_id, created_at, completed_at "
                                "from raw.case_workitems order by 1") == [
            ("wi-1", CASE_1, "queue-a", datetime(2026, 10, 3, 9, 5), datetime(2026, 10, 4, 10)),
            ("wi-2", CASE_2, "queue-b", datetime(2026, 10, 15, 12, 31), datetime(2026, 10, 15, 15)),
            ("wi-3", CASE_2, "queue-b", datetime(2026, 10, 15, 12, 32), None),
            ("wi-4", CASE_2, "queue-a", datetime(2026, 10, 16, 8), datetime(2026, 10, 17, 8))]  # fmt: skip
        # A charge naming no organization is the token's own.
        assert query(raw_file(warehouse), "select billing_period_id, period_status, charge_id, product_sku, org_id, "
                                "actual_quantity, overage_quantity, overage_rate, overage_charge, overage_currency "
                                "from raw.genesys_billing_charges order by charge_id") == [
            ("bp-2026-10", "Closed", "ch-1", CASE_SKU, "org-a", Decimal(180), Decimal(30), Decimal("0.4"),
             Decimal(12), "USD"),
            ("bp-2026-10", "Closed", "ch-2", None, gs.ORG_ID, Decimal(300), Decimal(50), Decimal(1), Decimal(50),
             "USD"),
            ("bp-2026-11", "Open", "ch-3", CASE_SKU, "org-a", Decimal(20), Decimal(0), Decimal("0.4"), Decimal(0),
             "USD")]  # fmt: skip
        assert query(raw_file(warehouse), "select invoice_id, line_id, currency, product_name, org_id, quantity, "
                                          "amount, "
                                "date_start from raw.genesys_invoice_lines order by line_id") == [
            ("inv-1", f"l-{n}", "USD", name, "org-a", Decimal(q), Decimal(a), datetime(2026, 10, 1))
            for n, name, q, a in ((1, "Case Management", 30, 12), (2, "AI Tokens", 50, 50),
                                  (3, "Wallboard Accounts", 1, 18))]  # fmt: skip
        # Progress per endpoint on stderr, and a summary.
        assert "cases: 3 fetched (page 2 of 2)" in done.stderr
        assert "raw.genesys_invoice_lines" in done.stdout and "3 rows" in done.stdout
        first_run = len(server.requests)

        # Since then: a case created now, wi-3 closed, the open period grew, a new invoice.
        data.cases.append(gs.case(CASE_4, gs.utc(now.isoformat())))
        data.steps[CASE_4] = [gs.step(CASE_4, "wi-5")]
        data.workitems["wi-5"] = gs.workitem("wi-5", gs.utc(now.isoformat()), None, "queue-c")
        data.workitems["wi-3"] = gs.workitem("wi-3", gs.utc("2026-10-15T12:32:00"), gs.utc("2026-11-20T00:00:00"),
                                             "queue-b")  # fmt: skip
        data.periods["bp-2026-11"].charges[0].actual_quantity = 40.0
        data.invoices.append(gs.invoice("inv-4", now.date(), "USD"))
        data.lines["inv-4"] = [gs.line("l-4", CASE_SKU, "Case Management", "org-a", 2, 0.8, date(2026, 11, 1),
                                       date(2026, 11, 30))]  # fmt: skip
        before = _counts(warehouse)
        done = _extract(server, warehouse)
        assert done.returncode == 0, done.stderr
        second = [path for _, _, path in server.requests[first_run:]]

    # Only the new case and its workitem, the workitem left open, the open period, the new invoice.
    assert query(raw_file(warehouse), "select case_id from raw.cases where _loaded_at = (select max(_loaded_at) "
                            "from raw.cases)") == [(CASE_4,)]  # fmt: skip
    assert not any(f"/cases/{CASE_1}/" in p or f"/cases/{CASE_2}/" in p for p in second)
    assert not any("billingperiods/bp-2026-10" in p for p in second)
    assert any("billingperiods/bp-2026-11" in p for p in second)
    assert not any("/invoices/inv-1/lines" in p for p in second)
    after = _counts(warehouse)
    assert {t: after[t] - before[t] for t in after} == {
        "cases": 1, "case_workitems": 2, "genesys_billing_charges": 1, "genesys_invoice_lines": 1}  # fmt: skip
    assert query(raw_file(warehouse), "select completed_at from raw.case_workitems where workitem_id = 'wi-3' "
                            "order by _loaded_at desc limit 1") == [(datetime(2026, 11, 20),)]  # fmt: skip
    assert query(raw_file(warehouse), "select actual_quantity from raw.genesys_billing_charges "
                                      "where charge_id = 'ch-3' "
                            "order by _loaded_at desc limit 1") == [(Decimal(40),)]  # fmt: skip


def test_an_expired_token_is_renewed_once(tmp_path: Path, now: datetime) -> None:
    warehouse = tmp_path / "wh.duckdb"
    with gs.GenesysServer(_org_data(now)) as server:
        server.expire_token_after = 3
        done = _extract(server, warehouse)
        tokens = server.tokens_issued
    assert done.returncode == 0, done.stderr
    assert tokens == 2
    assert "token expired, logging in again" in done.stderr
    assert _counts(warehouse) == {"cases": 3, "case_workitems": 4, "genesys_billing_charges": 3,
                                  "genesys_invoice_lines": 3}  # fmt: skip


def test_a_429_waits_for_retry_after(tmp_path: Path, now: datetime) -> None:
    warehouse = tmp_path / "wh.duckdb"
    with gs.GenesysServer(_org_data(now)) as server:
        server.faults.append(gs.Fault("/api/v2/billing/contracts", 429, headers={"Retry-After": "1"},
                                      body='{"message": "Rate limit exceeded the maximum"}', method="GET"))  # fmt: skip
        done = _extract(server, warehouse)
        calls = [t for t, m, p in server.requests if p.startswith("/api/v2/billing/contracts?")]
    assert done.returncode == 0, done.stderr
    assert "billing contracts: rate limited (429), waiting 1 s" in done.stderr
    assert calls[1] - calls[0] >= 0.95
    assert _counts(warehouse)["genesys_billing_charges"] == 3


def test_a_500_is_retried_and_a_lasting_one_lands_nothing(tmp_path: Path, now: datetime) -> None:
    warehouse = tmp_path / "wh.duckdb"
    with gs.GenesysServer(_org_data(now)) as server:
        server.faults.append(gs.Fault("/api/v2/billing/contracts/invoices", 500))
        done = _extract(server, warehouse)
        assert done.returncode == 0, done.stderr
        assert "invoices: HTTP 500, retrying in 0.5 s (1/4)" in done.stderr
        assert _counts(warehouse)["genesys_invoice_lines"] == 3
        before = _counts(warehouse)
        server.faults.append(gs.Fault("/api/v2/billing/contracts/invoices", 503, times=99))
        done = _extract(server, warehouse, "--since", "2026-01-01")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == \
        "error: Genesys Cloud failed invoices 5 times (HTTP 503): try again later"  # fmt: skip
    assert "Traceback" not in done.stderr
    assert _counts(warehouse) == before


def test_a_missing_permission_is_one_line_naming_it_and_lands_nothing(tmp_path: Path, now: datetime) -> None:
    warehouse = tmp_path / "wh.duckdb"
    with gs.GenesysServer(_org_data(now)) as server:
        server.faults.append(gs.Fault("/api/v2/billing/contracts", 403, body='{"message": "Missing permission"}'))
        done = _extract(server, warehouse)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == ("error: permission missing: the OAuth client's role needs billing:subscription:view to "
                         "read billing contracts (HTTP 403)")  # fmt: skip
    assert not any("Traceback" in line for line in lines)
    assert not warehouse.exists()  # the cases were fetched, but nothing was landed


def test_malformed_json_lands_nothing(tmp_path: Path, now: datetime) -> None:
    warehouse = tmp_path / "wh.duckdb"
    with gs.GenesysServer(_org_data(now)) as server:
        assert _extract(server, warehouse).returncode == 0
        before = _counts(warehouse)
        state = query(raw_file(warehouse), "select * from extract.genesys_state order by all")
        server.faults.append(gs.Fault("/api/v2/billing/contracts/invoices/inv-1/lines", 200, body='{"entities": [{'))
        done = _extract(server, warehouse, "--since", "2026-01-01")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("error: Genesys Cloud's answer to invoice lines")
    assert "not JSON" in done.stderr.strip().splitlines()[-1]
    assert _counts(warehouse) == before
    assert query(raw_file(warehouse), "select * from extract.genesys_state order by all") == state


def test_an_empty_org_lands_empty_tables(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    with gs.GenesysServer(gs.Data()) as server:
        done = _extract(server, warehouse)
    assert done.returncode == 0, done.stderr
    assert _counts(warehouse) == dict.fromkeys(_counts(warehouse), 0)
    assert "Fetched 0 records" in done.stdout
    assert query(raw_file(warehouse), "select endpoint from extract.genesys_state order by 1") == [
        ("case_workitems",),
        ("cases",),
        ("genesys_billing_charges",),
        ("genesys_invoice_lines",),
        ("organization",),
    ]


def test_bad_credentials_and_an_unknown_region_are_one_line(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh.duckdb"
    with gs.GenesysServer(gs.Data()) as server:
        done = _extract(server, warehouse, secret="wrong")
        assert server.paths() == ["/oauth/token"]
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: Genesys Cloud refused the client credentials at {server.url} (HTTP 401): check "
        "GENESYS_CLOUD_CLIENT_ID, GENESYS_CLOUD_CLIENT_SECRET and the region")  # fmt: skip
    done = _extract(None, warehouse, env={"GENESYS_CLOUD_REGION": "mypurecloud.moon"})
    assert done.returncode != 0
    assert done.stderr.strip().startswith("error: unknown Genesys Cloud region 'mypurecloud.moon': use one of "
                                          "mypurecloud.com, mypurecloud.ie,")  # fmt: skip
    assert len(done.stderr.strip().splitlines()) == 1
    assert not warehouse.exists()


def test_a_known_region_gives_its_hosts() -> None:
    from overages.genesys_api import resolve_hosts

    assert resolve_hosts("mypurecloud.ie", None, None) == ("https://api.mypurecloud.ie", "https://login.mypurecloud.ie")
    assert resolve_hosts("usw2.pure.cloud", None, None) == ("https://api.usw2.pure.cloud",
                                                            "https://login.usw2.pure.cloud")  # fmt: skip
    assert resolve_hosts(None, "http://127.0.0.1:9", None) == ("http://127.0.0.1:9", "http://127.0.0.1:9")
    assert resolve_hosts("mypurecloud.com", None, "http://127.0.0.1:8") == ("https://api.mypurecloud.com",
                                                                          "http://127.0.0.1:8")  # fmt: skip
