"""The edges of the rules (docs/rules.md), through the real CLI: values no decimal holds (rules 9 and 12), the
build's as-of instant and rows from its future (rules 11 and 13), usage conserved on every build, and the
CLI's one-line input errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR, build_file, copy_warehouse, land_raw, query, run_cli
from test_bad_input import assert_one_line_error

pytestmark = pytest.mark.rules  # make test-fast

AS_OF = "2026-11-15 12:00:00"
LOADED = datetime(2026, 11, 2, 8)
SUBSCRIPTIONS = [
    ("org-a", "Org A", "CX1", "named", "USD", datetime(2026, 9, 1), LOADED),
    ("org-old", "Org Old", "CX1", "named", "USD", datetime(1999, 6, 1), LOADED),  # in force from 2000-01 (rule 3)
]
# Rule 9: a DOUBLE tokens column, with values no decimal can hold.
NOT_BILLABLE = {"ev-nan": float("nan"), "ev-inf": float("inf"), "ev-minf": float("-inf"), "ev-1e20": 1e20,
                "ev-over": 1_000_000_000.5, "ev-neg": -2.0}  # fmt: skip
EVENTS = [
    ("ev-ok", "org-a", datetime(2026, 10, 5), 300.25, "copilot", LOADED),
    ("ev-max", "org-a", datetime(2026, 10, 6), 1_000_000_000.0, "copilot", LOADED),  # at the limit: billable
    *[(event_id, "org-a", datetime(2026, 10, 7), value, "copilot", LOADED) for event_id, value in NOT_BILLABLE.items()],
    ("ev-1999", "org-old", datetime(1999, 12, 31, 23, 59, 59), 5.0, "copilot", LOADED),  # rule 9: no_reference_data
    ("ev-nov", "org-a", datetime(2026, 11, 10), 1.0, "copilot", LOADED),  # the latest instant up to as-of
    ("ev-future", "org-a", datetime(2026, 12, 3), 7.0, "copilot", LOADED),  # rule 11: after as-of, waits
    ("ev-9999", "org-a", datetime(9999, 12, 31, 23, 59, 59), 7.0, "copilot", LOADED),
]  # fmt: skip
ACCOUNTS = [
    ("wb-future-delete", "org-a", datetime(2026, 9, 10), datetime(2031, 1, 1), LOADED),  # active until then (rule 4)
    ("wb-old", "org-old", datetime(1998, 1, 1), datetime(2000, 1, 1), LOADED),  # active only before 2000 (rule 9)
    ("wb-span", "org-old", datetime(1999, 1, 1), datetime(2000, 3, 1), LOADED),  # counts 2000-01 and 2000-02
]  # fmt: skip


def land(path: Path) -> None:
    land_raw(path, {"org_subscriptions": SUBSCRIPTIONS, "wallboard_accounts": ACCOUNTS})
    con = duckdb.connect(str(path))
    try:
        con.execute("alter table raw.ai_token_events alter tokens type double")
        con.executemany("insert into raw.ai_token_events values (?, ?, ?, ?, ?, ?)", [list(e) for e in EVENTS])
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("edges") / "w.duckdb"
    land(path)
    run_cli("build", "--quiet", "--as-of", AS_OF, warehouse=path)
    return path


def test_values_no_decimal_holds_are_rejected_not_fatal(built: Path) -> None:
    rejected = dict(query(built, "select record_id, reason from audit.rejected_rows where source_table = "
                                 "'ai_token_events'"))  # fmt: skip
    assert {event_id: rejected.get(event_id) for event_id in NOT_BILLABLE} == dict.fromkeys(
        NOT_BILLABLE, "invalid_quantity"
    )
    assert rejected["ev-1999"] == "no_reference_data"
    assert "ev-ok" not in rejected and "ev-max" not in rejected
    usage = query(built, "select usage_quantity from marts.fct_monthly_overages where org_id = 'org-a' "
                         "and billing_month = '2026-10-01' and feature = 'ai_tokens'")  # fmt: skip
    assert usage == [(Decimal("1000000300.2500"),)]


def test_the_horizon_is_the_as_of_month_and_later_rows_wait(built: Path) -> None:
    horizon = query(build_file(built), "select horizon_month, cast(as_of_at as varchar) "
                                       "from intermediate.int_billing_horizon")  # fmt: skip
    assert horizon == [(datetime(2026, 11, 1).date(), AS_OF)]
    assert query(built, "select max(billing_month) from marts.fct_monthly_overages")[0][0] == horizon[0][0]
    waiting = query(built, "select billing_month, accepted_usage from audit.usage_reconciliation "
                           "where is_beyond_horizon order by 1")  # fmt: skip
    assert waiting == [(datetime(2026, 12, 1).date(), Decimal("7.0000")), (datetime(9999, 12, 1).date(),
                                                                            Decimal("7.0000"))]  # fmt: skip
    # An account deleted in 2031 is active until then: billed in every month to the horizon, none after.
    wallboard = query(built, "select billing_month, usage_quantity from marts.fct_monthly_overages "
                             "where org_id = 'org-a' and feature = 'wallboard' order by 1")  # fmt: skip
    assert [m.month for m, _ in wallboard] == [9, 10, 11] and {u for _, u in wallboard} == {Decimal(1)}


def test_before_the_reference_data(built: Path) -> None:
    first = query(built, "select min(billing_month), count(*) from marts.fct_monthly_overages "
                         "where org_id = 'org-old' and feature = 'wallboard' and usage_quantity > 0")  # fmt: skip
    assert first == [(datetime(2000, 1, 1).date(), 2)]  # wb-span in 2000-01 and 2000-02; wb-old never
    assert query(built, "select reason from audit.rejected_rows where record_id = 'wb-old'") == [("no_reference_data",)]


def test_future_rows_are_listed_as_warnings(built: Path) -> None:
    # The check reads the raw tables, which only the build file holds: validate it as the build's checkpoint did.
    done = run_cli("validate", warehouse=build_file(built))
    warnings = [line for line in done.stdout.splitlines() if "WARNING future_rows" in line]
    assert len(warnings) == 1 and "rule 11" in warnings[0] and "on 3 of 3 rows" in warnings[0], done.stdout
    assert "record_id=ev-9999" in done.stdout and "record_id=wb-future-delete" in done.stdout


def test_genesys_figures_no_decimal_holds_are_rejected_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "genesys.duckdb"
    land(path)
    con = duckdb.connect(str(path))
    try:  # the optional Genesys tables, landed with DOUBLE figures (rule 9: each row's fault is its own)
        con.execute("create table raw.genesys_billing_charges (contract_id varchar, billing_period_id varchar, "
                    "period_status varchar, period_start timestamp, period_end timestamp, charge_id varchar, "
                    "product_sku varchar, product_name varchar, unit_of_measure varchar, org_id varchar, "
                    "org_name varchar, prepaid_quantity double, fairuse_quantity double, actual_quantity double, "
                    "overage_quantity double, overage_rate double, overage_charge double, overage_currency varchar, "
                    "_loaded_at timestamp)")  # fmt: skip
        charge = [
            "k1", "p1", "open", datetime(2026, 10, 1), datetime(2026, 11, 1), None, "GC-170-NV-CASEMGMT",
            "Case Management", "case", "org-a", "Org A", 0.0, 150.0, 160.0, 10.0, 0.4, 4.0, "USD", LOADED,
        ]  # fmt: skip
        # 13: actual_quantity, 15: overage_rate, 16: overage_charge
        for charge_id, column, value in (("ch-ok", 13, 160.0), ("ch-nan", 13, float("nan")), ("ch-big", 16, 1e20),
                                         ("ch-minf", 15, float("-inf"))):  # fmt: skip
            row = list(charge)
            row[5], row[column] = charge_id, value
            con.execute(f"insert into raw.genesys_billing_charges values ({', '.join('?' * len(row))})", row)
        con.execute("create table raw.genesys_invoice_lines (invoice_id varchar, line_id varchar, invoice_date "
                    "timestamp, currency varchar, product_sku varchar, product_name varchar, description varchar, "
                    "org_id varchar, quantity double, unit_of_measure varchar, amount double, date_start timestamp, "
                    "date_end timestamp, _loaded_at timestamp)")  # fmt: skip
        lines = (("l-ok", 10.0, 4.0), ("l-inf", 10.0, float("inf")), ("l-nan", float("nan"), 4.0))
        for line_id, quantity, amount in lines:
            con.execute("insert into raw.genesys_invoice_lines values (?, ?, ?, 'USD', 'GC-170-NV-CASEMGMT', "
                        "'Case Management', 'overage', 'org-a', ?, 'case', ?, ?, ?, ?)",
                        ["inv1", line_id, datetime(2026, 11, 1), quantity, amount, datetime(2026, 10, 1),
                         datetime(2026, 11, 1), LOADED])  # fmt: skip
    finally:
        con.close()
    run_cli("build", "--skip-validate", "--quiet", "--as-of", AS_OF, warehouse=path)
    rejected = dict(query(path, "select record_id, reason from audit.rejected_rows where source_table like 'genesys%'"))
    assert rejected == {"p1|ch-nan|org-a": "invalid_quantity", "p1|ch-big|org-a": "invalid_quantity",
                        "p1|ch-minf|org-a": "invalid_quantity", "inv1|l-inf": "invalid_quantity",
                        "inv1|l-nan": "invalid_quantity"}  # fmt: skip
    compared = query(path, "select genesys_actual_quantity, invoiced_amount from marts.fct_billing_reconciliation "
                           "where org_id = 'org-a' and feature = 'case_management'")  # fmt: skip
    assert compared == [(Decimal("160.0000"), Decimal("4.0000"))]


def test_a_month_total_beyond_decimal_18_4_stops_the_build_before_readers(tmp_path: Path) -> None:
    path = tmp_path / "overflow.duckdb"
    land(path)
    run_cli("build", "--skip-validate", "--quiet", "--as-of", AS_OF, warehouse=path)
    readers = ["marts.fct_monthly_overages", "marts.fct_invoice_lines", "marts.dim_orgs", "audit.rejected_rows",
               "audit.raw_reconciliation", "audit.usage_reconciliation"]  # fmt: skip
    before = {table: query(path, f"select * from {table} order by all") for table in readers}
    con = duckdb.connect(str(path))
    try:  # 100,001 events of 1,000,000,000 tokens: each billable, their month's total beyond decimal(18,4)
        con.execute("insert into raw.ai_token_events select 'big-' || i, 'org-a', timestamp '2026-10-20', 1e9, "
                    "'copilot', timestamp '2026-11-03' from range(100001) as t(i)")  # fmt: skip
    finally:
        con.close()
    done = run_cli("build", "--skip-validate", "--quiet", "--as-of", AS_OF, warehouse=path, check=False)
    assert_one_line_error(done, "org org-a", "billing month 2026-10-01", "decimal(18,4)")
    assert {table: query(path, f"select * from {table} order by all") for table in readers} == before


def test_usage_reaching_no_mart_row_fails_the_dbt_test_and_the_suite(tmp_path: Path) -> None:
    path = tmp_path / "conserved.duckdb"
    land(path)
    run_cli("build", "--quiet", "--as-of", AS_OF, warehouse=path)  # both checks pass on the build itself
    assert dbt_test(path, "assert_usage_conserved").returncode == 0
    con = duckdb.connect(str(build_file(path)))  # where dbt and the checkpoint read the marts
    try:  # one accepted event's usage no longer reaches a mart row
        con.execute("delete from marts.fct_monthly_overages where org_id = 'org-a' and feature = 'ai_tokens' "
                    "and billing_month = '2026-10-01'")  # fmt: skip
    finally:
        con.close()
    failed = dbt_test(path, "assert_usage_conserved")
    assert failed.returncode != 0 and "assert_usage_conserved" in failed.stdout
    done = run_cli("validate", warehouse=build_file(path), check=False)
    assert done.returncode == 1
    assert "FAILED usage_conserved: expect_column_values_to_be_in_set(is_conserved) failed on 1 of" in done.stdout
    assert "org_id=org-a, billing_month=2026-10-01, feature=ai_tokens" in done.stdout


def dbt_test(path: Path, select: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OVERAGES_BUILD_PATH": str(build_file(path)), "DO_NOT_TRACK": "1"}
    dbt = str(Path(sys.executable).with_name("dbt"))
    return subprocess.run([dbt, "test", "--select", select, "--project-dir", str(PROJECT_DIR), "--profiles-dir",
                           str(PROJECT_DIR), "--target-path", str(path.parent / "target")],
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip


def test_a_future_loaded_at_neither_hides_later_rows_nor_forces_full_refreshes(tmp_path: Path) -> None:
    path = tmp_path / "loaded.duckdb"
    now = datetime.utcnow().replace(microsecond=0)  # noqa: DTZ003 - naive UTC, as the raw tables hold it
    land_raw(path, {
        "org_subscriptions": [SUBSCRIPTIONS[0]],
        "ai_token_events": [("ev-2030", "org-a", datetime(2026, 10, 1), 1, "copilot", datetime(2030, 1, 1))],
    })  # fmt: skip
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    status = json.loads(run_cli("status", "--json", warehouse=path).stdout)
    freshness = {table["table"]: table["freshness"] for table in status["raw_tables"]}
    assert freshness["raw.ai_token_events"] == "future" and freshness["raw.org_subscriptions"] != "future"
    checked = run_cli("validate", warehouse=build_file(path))  # rule 13: a warning that lists the row, no failure
    assert "WARNING future_rows" in checked.stdout and "record_id=ev-2030" in checked.stdout, checked.stdout
    for hours in (2, 1):  # rows landed after it, with honest _loaded_at values earlier than 2030
        con = duckdb.connect(str(path))
        try:
            con.execute("insert into raw.ai_token_events values (?, 'org-a', '2026-10-02', 10, 'copilot', ?)",
                        [f"ev-later-{hours}", now - timedelta(hours=hours)])  # fmt: skip
        finally:
            con.close()
        done = run_cli("build", "--skip-validate", "--quiet", warehouse=path)
        assert "full refresh" not in done.stderr
        assert query(path, "select full_refresh from audit.build_runs order by started_at desc limit 1") == [(False,)]
    usage = query(path, "select usage_quantity from marts.fct_monthly_overages where billing_month = '2026-10-01' "
                        "and feature = 'ai_tokens'")  # fmt: skip
    assert usage == [(Decimal("21.0000"),)]


def test_through_month_after_the_as_of_month_is_refused(built: Path) -> None:
    done = run_cli("build", "--through-month", "2026-12", "--as-of", AS_OF, warehouse=built, check=False)
    assert_one_line_error(done, "--through-month 2026-12 is later than the as-of month 2026-11")
    env = {**os.environ, "WAREHOUSE_PATH": str(built), "DO_NOT_TRACK": "1"}
    dbt = str(Path(sys.executable).with_name("dbt"))
    compiled = subprocess.run([dbt, "compile", "--select", "int_billing_horizon", "--vars",
                               json.dumps({"through_month": "2026-12", "as_of": AS_OF}), "--project-dir",
                               str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), "--target-path",
                               str(built.parent / "target-compile")],
                              env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert compiled.returncode != 0
    assert "through_month 2026-12 is later than the as-of month 2026-11" in compiled.stdout


@pytest.mark.parametrize(
    ("options", "env", "fragments"),
    [
        (["--memory-limit", "1KB"], {}, ["--memory-limit '1KB' is too small"]),
        ([], {"OVERAGES_MEMORY_LIMIT": "garbage"}, ["OVERAGES_MEMORY_LIMIT 'garbage' is not a memory size"]),
        ([], {"OVERAGES_THREADS": "abc"}, ["OVERAGES_THREADS 'abc' is not a number of threads"]),
        ([], {"OVERAGES_THREADS": "0"}, ["OVERAGES_THREADS 0 is out of range"]),
        (["--as-of", "yesterday"], {}, ["--as-of 'yesterday' is not an instant"]),
    ],
)
def test_input_errors_are_one_line(options: list[str], env: dict[str, str], fragments: list[str],
                                   built: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    done = run_cli("build", "--quiet", *options, warehouse=built, check=False)
    assert_one_line_error(done, *fragments)
    assert done.returncode == 2


def test_a_horizon_before_all_data_is_a_warning(built: Path, tmp_path: Path) -> None:
    copy = copy_warehouse(built, tmp_path / "early.duckdb")
    done = run_cli("build", "--skip-validate", "--quiet", "--through-month", "1999-01", "--as-of", AS_OF,
                   warehouse=copy)  # fmt: skip
    assert "warning: the horizon 1999-01 precedes all accepted data (the first billing month is 2000-01)" in done.stderr
    assert query(copy, "select count(*) from marts.fct_monthly_overages") == [(0,)]
