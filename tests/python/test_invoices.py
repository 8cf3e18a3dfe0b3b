"""Invoices and closed months: a month closed, then late usage, a subscription and a contract correction and a
seed price edit for it. The final invoices stay as issued; adjustments on the next open month carry the
difference to the minor unit in every currency; invoice numbers survive rebuilds and full refreshes."""

from __future__ import annotations

import csv
import re
import subprocess
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import copy_project, copy_warehouse, land_raw, query, run_cli
from test_report import CHROMIUM, CHROMIUM_FLAGS

PRICES = Path("seeds") / "reference" / "ref_list_prices.csv"  # in the story's copy of the project
JP_NAME = "株式会社サクラ"
EU_NAME = "Café Zürich"
SEPTEMBER, OCTOBER = "2026-09", "2026-10"

RAW = {
    "org_subscriptions": [
        ("org-jp", JP_NAME, "CX1", "named", "JPY", "2026-09-01 00:00:00", "2026-09-01 00:00:00"),
        ("org-eu", EU_NAME, "CX2", "named", "EUR", "2026-09-01 00:00:00", "2026-09-01 00:00:00"),
        ("org-us", "Acme", "CX1", "named", "USD", "2026-09-01 00:00:00", "2026-09-01 00:00:00"),
    ],
    # org-jp: 400 tokens in September (150 over 250, at 120 JPY: 18,000), 300 in October (6,000).
    "ai_token_events": [("jp-9", "org-jp", "2026-09-10 00:00:00", 400, "copilot", "2026-10-01 00:00:00"),
                        ("jp-10", "org-jp", "2026-10-10 00:00:00", 300, "copilot", "2026-10-11 00:00:00"),
                        # org-eu: 300 tokens in September, 50 over a Named allocation (at 0.80 EUR: 40.00).
                        ("eu-9", "org-eu", "2026-09-12 00:00:00", 300, "copilot", "2026-10-01 00:00:00")],
    # org-eu: 170 cases in September (20 over, 6.40 EUR), 160 in October (3.20).
    "cases": [(f"eu-c9-{i}", "org-eu", "2026-09-15 00:00:00", "2026-10-01 00:00:00") for i in range(170)]
             + [(f"eu-c10-{i}", "org-eu", "2026-10-15 00:00:00", "2026-10-20 00:00:00") for i in range(160)],
    # org-us: 3 wallboard accounts from September on (2 over 1, at 18 USD: 36.00 a month).
    "wallboard_accounts": [(f"us-w{i}", "org-us", "2026-09-01 10:00:00", None, "2026-09-02 00:00:00")
                           for i in range(3)],
}  # fmt: skip

# After September is closed: a late token event, a re-sent subscription (org-eu is Concurrent after all: 350 free
# tokens), and a committed wallboard tier for org-us from September (5 at 15.00 USD).
LATE = {
    "ai_token_events": [("jp-9-late", "org-jp", "2026-09-20 00:00:00", 100, "copilot", "2026-11-02 00:00:00")],
    "org_subscriptions": [("org-eu", EU_NAME, "CX2", "concurrent", "EUR", "2026-09-01 00:00:00",
                           "2026-11-02 00:00:00")],
    "contract_rates": [("org-us", "wallboard", "USD", 15, 5, "2026-09-01", None, "2026-11-02 00:00:00")],
}  # fmt: skip
# Hand-computed: what each org's September comes to after the changes, less what was issued.
EXPECTED_SEPTEMBER_ADJUSTMENTS = {
    # 500 tokens, 250 over, at the edited 125 JPY: 31,250, less 18,000 issued.
    ("org-jp", "JPY"): (Decimal("13250"), "list price changed"),
    # 300 tokens within 350: nothing, less 40.00 issued (the cases are unchanged).
    ("org-eu", "EUR"): (Decimal("-40.00"), "free allocation changed"),
    # 5 committed at 15.00: 75.00, less 36.00 issued.
    ("org-us", "USD"): (Decimal("39.00"), "contract changed"),
}


def _insert(path: Path, rows: dict[str, list[tuple]]) -> None:
    con = duckdb.connect(str(path))
    try:
        for table, table_rows in rows.items():
            for row in table_rows:
                con.execute(f"insert into raw.{table} values ({', '.join('?' for _ in row)})", list(row))
    finally:
        con.close()


def _final(path: Path, month: str) -> dict[str, list[tuple]]:
    month_day = f"{month}-01"
    return {
        "invoices": query(path, "select * exclude (issued_at, issued_by_build_id) from marts.fct_invoices "
                                f"where billing_month = '{month_day}' order by all"),
        "lines": query(path, f"select * from marts.fct_invoice_lines where billing_month = '{month_day}' order by all"),
    }  # fmt: skip


def _numbers(path: Path) -> dict[tuple, str]:
    return {(o, str(m)): n for n, o, m in query(path, "select invoice_number, org_id, billing_month "
                                                      "from marts.fct_invoices")}  # fmt: skip


def _adjustment_sums(path: Path, month: str) -> dict[tuple, Decimal]:
    rows = query(path, "select org_id, currency, sum(amount) from marts.fct_invoice_lines "
                       f"where line_type = 'adjustment' and adjusted_billing_month = '{month}-01' "
                       "group by all")  # fmt: skip
    return {(o, c): a for o, c, a in rows}


def _computed_less_issued(path: Path, month: str) -> dict[tuple, Decimal]:
    """From the two independent sides: what the rules compute (fct_monthly_overages) and what the close stored."""
    totals: dict[tuple, Decimal] = defaultdict(Decimal)
    for org, currency, amount in query(path, "select org_id, billing_currency, sum(overage_amount) from "
                                             f"marts.fct_monthly_overages where billing_month = '{month}-01' "
                                             "group by all"):  # fmt: skip
        totals[(org, currency)] += amount
    for org, currency, amount in query(path, "select org_id, currency, sum(amount) from audit.invoices_issued "
                                             f"where billing_month = '{month}-01' and line_type = 'charge' "
                                             "group by all"):  # fmt: skip
        totals[(org, currency)] -= amount
    return {key: value for key, value in totals.items() if value != 0}


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The whole story once (each step is a build); the tests read what each step left."""
    folder = tmp_path_factory.mktemp("invoices")
    path = folder / "w.duckdb"
    project = copy_project(folder / "project")
    prices = project / PRICES
    land_raw(path, RAW)
    run_cli("build", "--quiet", warehouse=path, project=project)
    seen: dict[str, object] = {"path": path, "folder": folder}
    seen["numbers_before_close"] = _numbers(path)
    seen["draft_september"] = _final(path, SEPTEMBER)
    seen["close"] = run_cli("close", "--month", SEPTEMBER, "--quiet", warehouse=path, project=project)
    seen["issued"] = _final(path, SEPTEMBER)
    original_prices = prices.read_bytes()
    try:
        prices.write_bytes(original_prices.replace(b"ai_tokens,JPY,120.00,", b"ai_tokens,JPY,125.00,"))
        _insert(path, LATE)
        seen["changed_build"] = run_cli("build", "--skip-validate", warehouse=path, project=project)
        seen["after_changes"] = _final(path, SEPTEMBER)
        seen["adjustments"] = _adjustment_sums(path, SEPTEMBER)
        seen["computed_less_issued"] = _computed_less_issued(path, SEPTEMBER)
        seen["reasons"] = query(path, "select org_id, currency, adjustment_reason, adjusted_invoice_number, "
                                      "cast(billing_month as varchar), status from marts.fct_invoice_lines "
                                      "where line_type = 'adjustment' order by all")  # fmt: skip
        seen["close_unvalidated"] = run_cli("close", "--month", OCTOBER, warehouse=path, check=False, project=project)
        run_cli("build", "--skip-validate", "--quiet", "--full-refresh", warehouse=path, project=project)
        seen["after_full_refresh"] = _final(path, SEPTEMBER)
        seen["adjustments_after_full_refresh"] = _adjustment_sums(path, SEPTEMBER)
        seen["numbers_after_full_refresh"] = _numbers(path)
    finally:
        prices.write_bytes(original_prices)
    run_cli("build", "--quiet", warehouse=path, project=project)  # the published prices again, validated
    seen["adjustments_restored"] = _adjustment_sums(path, SEPTEMBER)
    seen["computed_less_issued_restored"] = _computed_less_issued(path, SEPTEMBER)
    seen["close_october"] = run_cli("close", "--month", OCTOBER, "--quiet", warehouse=path, project=project)
    seen["reconciliation"] = query(path, "select org_id, currency, computed_amount, issued_amount, adjusted_amount, "
                                         "pending_amount, is_reconciled from audit.invoice_reconciliation "
                                         f"where billing_month = '{SEPTEMBER}-01' order by all")  # fmt: skip
    seen["october_final"] = query(path, "select org_id, status, adjustment_amount, total_amount "
                                        f"from marts.fct_invoices where billing_month = '{OCTOBER}-01' "
                                        "order by all")  # fmt: skip
    return seen


def test_closing_issues_the_drafts_as_they_stood(story: dict) -> None:
    assert "Closed 2026-09: 3 invoices issued (4 lines)" in story["close"].stdout
    draft, issued = story["draft_september"], story["issued"]
    # The same lines, numbers and totals, now final.
    assert [row[:-1] for row in issued["lines"]] == [row[:-1] for row in draft["lines"]]
    assert {row[-1] for row in issued["lines"]} == {"final"} and {row[-1] for row in draft["lines"]} == {"draft"}
    totals = {row[1]: (row[2], row[4], row[10]) for row in issued["invoices"]}  # org: name, currency, total
    assert totals == {"org-eu": (EU_NAME, "EUR", Decimal("46.4000")), "org-jp": (JP_NAME, "JPY", Decimal("18000")),
                      "org-us": ("Acme", "USD", Decimal("36.0000"))}  # fmt: skip


def test_final_invoices_never_change(story: dict) -> None:
    assert story["after_changes"] == story["issued"]
    assert story["after_full_refresh"] == story["issued"]


def test_adjustments_carry_computed_less_issued_to_the_minor_unit(story: dict) -> None:
    adjustments = story["adjustments"]
    assert adjustments == story["computed_less_issued"]
    assert {key: value for key, (value, _) in EXPECTED_SEPTEMBER_ADJUSTMENTS.items()} == adjustments
    assert {currency for _, currency in adjustments} == {"JPY", "EUR", "USD"}
    for (_, currency), amount in adjustments.items():
        places = 0 if currency == "JPY" else 2
        assert amount == amount.quantize(Decimal(1).scaleb(-places)), (currency, amount)
    assert story["adjustments_after_full_refresh"] == adjustments
    # With the price edit undone, only the usage, subscription and contract changes remain.
    restored = story["adjustments_restored"]
    assert restored == story["computed_less_issued_restored"]
    assert restored[("org-jp", "JPY")] == Decimal("12000")  # 250 over at 120, less 18,000


def test_adjustment_lines_name_the_invoice_and_the_reason(story: dict) -> None:
    numbers = story["numbers_before_close"]
    for org, currency, reason, adjusted, month, status in story["reasons"]:
        assert reason == EXPECTED_SEPTEMBER_ADJUSTMENTS[(org, currency)][1]
        assert adjusted == numbers[(org, f"{SEPTEMBER}-01")]
        assert (month, status) == (f"{OCTOBER}-01", "draft")  # on the next open month
    assert len(story["reasons"]) == 3


def test_invoice_numbers_are_stable_across_rebuilds_and_full_refreshes(story: dict) -> None:
    before, after = story["numbers_before_close"], story["numbers_after_full_refresh"]
    assert before and all(after[key] == number for key, number in before.items())
    assert all(re.fullmatch(r"OV-2026(09|10)-[0-9A-F]{16}", n) for n in after.values())


def test_reference_data_change_is_an_event(story: dict) -> None:
    out = story["changed_build"].stdout
    assert "Reference data changed since the previous build: reference/ref_list_prices.csv" in out
    assert re.search(r"months re-priced: [0-9, -]*2026-09", out), out
    rows = query(story["path"], "select reference_changes from audit.build_runs order by started_at")
    assert all(r[0] for r in rows)


def test_a_close_after_an_unvalidated_build_is_refused(story: dict) -> None:
    done = story["close_unvalidated"]
    assert done.returncode != 0 and "was not validated" in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr


def test_closing_the_next_month_issues_its_adjustments_and_reconciles(story: dict) -> None:
    assert {status for _, status, *_ in story["october_final"]} == {"final"}
    adjusted = {org: amount for org, _, amount, _ in story["october_final"]}
    assert adjusted == {"org-eu": Decimal("-40.0000"), "org-jp": Decimal("12000.0000"), "org-us": Decimal("39.0000")}
    for org, currency, computed, issued, adjusted_amount, pending, reconciled in story["reconciliation"]:
        assert reconciled and pending == 0
        assert computed == issued + adjusted_amount, (org, currency)


def test_refusals_are_one_line_errors(story: dict) -> None:
    path = story["path"]
    for args, message in [
        (("close", "--month", SEPTEMBER), "closed already"),
        (("close", "--month", "2099-01"), "only a month that has ended can be closed"),
        (("close", "--month", "2020-01"), "no such billing month"),
        (("reopen", "--month", SEPTEMBER, "--reason", "typo"), "re-open 2026-10 first"),
        (("reopen", "--month", "2026-08", "--reason", "typo"), "is not closed"),
        (("invoice", "--org", "org-nobody", "--month", OCTOBER), "no org 'org-nobody'"),
        (("invoice", "--org", "org-us", "--month", "2020-01"), "has no invoice for 2020-01"),
    ]:
        done = run_cli(*args, warehouse=path, check=False)
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)
        assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr, done.stderr


def test_reopen_is_recorded_and_the_month_is_draft_again(story: dict, tmp_path: Path) -> None:
    path = copy_warehouse(story["path"], tmp_path / "w.duckdb")
    done = run_cli("reopen", "--month", OCTOBER, "--reason", "contract signed late", "--quiet", warehouse=path)
    assert "Re-opened 2026-10" in done.stdout
    statuses = query(path, "select distinct status from marts.fct_invoices where billing_month = '2026-10-01'")
    assert statuses == [("draft",)]
    events = query(path, "select action, reason from audit.month_close_events order by recorded_at")
    assert events == [("close", None), ("close", None), ("reopen", "contract signed late")]
    # The issued lines stay on record; September is still final.
    assert query(path, "select count(*) from audit.invoices_issued where billing_month = '2026-10-01'")[0][0] > 0
    assert _final(path, SEPTEMBER) == story["issued"]


def test_invoice_prints_and_writes_html_and_csv(story: dict, tmp_path: Path) -> None:
    path = story["path"]
    before = path.stat().st_mtime_ns
    done = run_cli("invoice", "--org", "org-eu", "--month", OCTOBER, "--output", str(tmp_path), warehouse=path)
    assert path.stat().st_mtime_ns == before  # read-only
    number = story["numbers_before_close"][("org-eu", f"{OCTOBER}-01")]
    assert f"Invoice {number} (final" in done.stdout and EU_NAME in done.stdout and "currency EUR" in done.stdout
    # 160 cases: 10 over at 0.32 = 3.20, and the 40.00 credit for September: -36.80.
    assert re.search(r"Total EUR\s+-36\.80", done.stdout), done.stdout
    assert re.search(r"Case Management overage, 2026-10-01\s+10 case\s+0\.3200\s+3\.20", done.stdout), done.stdout
    raw = (tmp_path / f"{number}.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert {r["org_name"] for r in rows} == {EU_NAME}
    assert sorted(r["amount"] for r in rows) == ["-40.00", "3.20"]
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal("-36.80")
    credit = next(r for r in rows if r["line_type"] == "adjustment")
    assert credit["adjusted_invoice_number"] == story["numbers_before_close"][("org-eu", f"{SEPTEMBER}-01")]
    assert credit["adjustment_reason"] == "free allocation changed"
    every = run_cli("invoice", "--month", SEPTEMBER, "--all", str(tmp_path / "all"), warehouse=path)
    assert "Wrote 3 invoices for 2026-09 (3 final, 0 draft)" in every.stdout
    assert len(list((tmp_path / "all").glob("*.html"))) == 3 and len(list((tmp_path / "all").glob("*.csv"))) == 3
    jp = tmp_path / "all" / f"{story['numbers_before_close'][('org-jp', f'{SEPTEMBER}-01')]}.csv"
    assert "18000" in jp.read_text(encoding="utf-8-sig") and "18000.00" not in jp.read_text(encoding="utf-8-sig")


def test_invoice_page_renders_in_a_headless_browser(story: dict, tmp_path: Path) -> None:
    assert CHROMIUM, "chromium is needed for this test: make test installs it (apt-get install chromium)"
    run_cli("invoice", "--org", "org-jp", "--month", OCTOBER, "--output", str(tmp_path), warehouse=story["path"])
    (page,) = tmp_path.glob("*.html")
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert JP_NAME in dom.stdout
    number = story["numbers_before_close"][("org-jp", f"{OCTOBER}-01")]
    assert f'<span id="invoice-number">{number}</span>' in dom.stdout
    # October: 300 tokens, 50 over at 120 JPY (6,000), and the 12,000 debit for September's late tokens.
    assert re.search(r'id="total" data-amount="18000">18,000<', dom.stdout), dom.stdout[-3000:]
    assert len(re.findall(r'<tr data-line-type="(charge|adjustment)"', dom.stdout)) == 2


def test_a_re_sent_event_after_the_close_is_an_adjustment(tmp_path: Path) -> None:
    """A correction that re-sends an event id of a closed month (rule 2: the latest landing of an id wins) leaves
    the final invoice as issued and bills the difference as an adjustment on the next open month."""
    path = tmp_path / "w.duckdb"
    land_raw(path, {
        "org_subscriptions": [("org-jp", JP_NAME, "CX1", "named", "JPY", "2026-09-01 00:00:00",
                               "2026-09-01 00:00:00")],
        # 400 tokens in September (150 over 250 at 120 JPY: 18,000); October within the allocation.
        "ai_token_events": [("jp-9", "org-jp", "2026-09-10 00:00:00", 400, "copilot", "2026-10-01 00:00:00"),
                            ("jp-10", "org-jp", "2026-10-10 00:00:00", 10, "copilot", "2026-10-11 00:00:00")],
    })  # fmt: skip
    run_cli("build", "--quiet", warehouse=path)
    run_cli("close", "--month", SEPTEMBER, "--quiet", warehouse=path)
    issued = _final(path, SEPTEMBER)
    # jp-9 again, corrected down to 300 tokens (50 over: 6,000), landed after the close.
    _insert(path, {"ai_token_events": [("jp-9", "org-jp", "2026-09-10 00:00:00", 300, "copilot",
                                        "2026-11-02 00:00:00")]})  # fmt: skip
    run_cli("build", "--quiet", "--skip-validate", warehouse=path)
    assert _final(path, SEPTEMBER) == issued
    computed = query(path, "select usage_quantity, overage_amount from marts.fct_monthly_overages where "
                           "org_id = 'org-jp' and billing_month = '2026-09-01' and feature = 'ai_tokens'")  # fmt: skip
    assert computed == [(Decimal("300"), Decimal("6000"))]
    lines = query(path, "select cast(billing_month as varchar), amount, adjustment_reason, adjusted_invoice_number "
                        "from marts.fct_invoice_lines where line_type = 'adjustment'")  # fmt: skip
    number = query(path, "select invoice_number from marts.fct_invoices where billing_month = '2026-09-01'")[0][0]
    assert lines == [(f"{OCTOBER}-01", Decimal("-12000"), "usage changed", number)]
    assert _computed_less_issued(path, SEPTEMBER) == {("org-jp", "JPY"): Decimal("-12000")}
