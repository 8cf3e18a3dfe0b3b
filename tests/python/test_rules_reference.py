"""Differential test: the warehouse against a second reading of docs/rules.md, on random adversarial raw data.

rules_reference.py computes the rules a row at a time in Python, from docs/rules.md and the seed CSVs alone;
adversarial_raw.py draws small raw data sets full of the contract's faults and edges (seeded, so a failure
repeats). Each data set is landed in a fresh warehouse and built by the real CLI; every row and column of
marts.fct_monthly_overages and audit.rejected_rows must equal the reference's, and every invoice line must
be its monthly row with billed_quantity > 0. One data set is built with --through-month, and one is built,
landed again (corrections, a past month's licence change, an earlier subscription) and built incrementally.
Every build is given the same as-of instant as the reference (rule 11). The edges data sets (rules 9, 11, 13)
land their quantities as DOUBLE, with NaN, infinities and 1e20 among them, and hold rows from before the
reference data, from after the as-of instant and landed years ahead.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from adversarial_raw import DOUBLE_COLUMNS, RawDataSet, as_tuples, second_batch
from conftest import land_raw, query, run_cli
from overages.raw_contract import RAW_TABLES
from rules_reference import FOUR_PLACES, compute

pytestmark = pytest.mark.rules  # make test-fast

MONTHLY_COLUMNS = [
    "org_id", "billing_month", "feature", "license_tier", "license_type", "billing_currency", "usage_quantity",
    "free_allocation", "overage_quantity", "committed_quantity", "billed_quantity", "unit_price", "price_source",
    "overage_amount", "list_amount_usd", "invoice_code",
]  # fmt: skip
REJECTED_COLUMNS = ["source_table", "record_id", "org_id", "reason", "_loaded_at"]
KEY = slice(0, 3)
# The builds' as-of instant: most rows land a day either side of it, some years ahead.
AS_OF = dt.datetime(2026, 12, 1, 12)
AS_OF_OPTION = ("--as-of", AS_OF.strftime("%Y-%m-%d %H:%M:%S"))


def _canonical(value: object) -> object:
    return value.quantize(FOUR_PLACES) if isinstance(value, Decimal) else value


def _rows(dicts: list[dict], columns: list[str]) -> list[tuple]:
    return [tuple(_canonical(row[column]) for column in columns) for row in dicts]


def _differences(expected: list[tuple], actual: list[tuple]) -> list[str]:
    """Rows only one side holds (with multiplicity), at most 10, readable."""
    missing = list((Counter(expected) - Counter(actual)).elements())
    extra = list((Counter(actual) - Counter(expected)).elements())
    return [f"expected, not built: {row}" for row in missing[:5]] + [f"built, not expected: {row}" for row in extra[:5]]


def _check(warehouse: Path, raw: dict[str, list[dict]], through_month: dt.date | None = None) -> None:
    """Compare the built marts with the reference."""
    expected = compute(raw, through_month, AS_OF)
    built = query(warehouse, f"select {', '.join(MONTHLY_COLUMNS)} from marts.fct_monthly_overages")
    monthly = _rows(expected.monthly_overages, MONTHLY_COLUMNS)
    assert len({row[KEY] for row in built}) == len(built), "fct_monthly_overages repeats an org, month and feature"
    assert not _differences(monthly, built), "\n".join(_differences(monthly, built))

    rejected = _rows(expected.rejected_rows, REJECTED_COLUMNS)
    built_rejected = query(warehouse, f"select {', '.join(REJECTED_COLUMNS)} from audit.rejected_rows")
    assert not _differences(rejected, built_rejected), "\n".join(_differences(rejected, built_rejected))

    lines = query(warehouse, "select org_id, billing_month, feature, invoice_code, quantity, unit_price, amount, "
                             "currency, price_source from marts.fct_invoice_lines")  # fmt: skip
    billed = [(r[0], r[1], r[2], r[15], r[10], r[11], r[13], r[5], r[12]) for r in monthly if r[10] > 0]
    assert not _differences(billed, lines), "\n".join(_differences(billed, lines))


def _build(warehouse: Path, tables: dict[str, list[dict]], *options: str, doubles: bool = False) -> None:
    if doubles:  # the quantity columns as a loader that writes floats lands them (rule 9)
        land_raw(warehouse, {})
        con = duckdb.connect(str(warehouse))
        try:
            for table, columns in DOUBLE_COLUMNS.items():
                for column in columns:
                    con.execute(f"alter table raw.{table} alter {column} type double")
        finally:
            con.close()
        land_raw_append(warehouse, tables)
    else:
        land_raw(warehouse, as_tuples(tables))
    run_cli("build", "--skip-validate", "--quiet", *AS_OF_OPTION, *options, warehouse=warehouse)


SEEDS = [1, 2, 3]
EDGE_SEEDS = [6, 7]


@pytest.mark.parametrize("seed", SEEDS)
def test_marts_equal_the_reference(seed: int, tmp_path: Path) -> None:
    tables = RawDataSet(seed).tables()
    warehouse = tmp_path / f"seed-{seed}.duckdb"
    _build(warehouse, tables)
    _check(warehouse, tables)
    assert query(warehouse, "select count(*) from marts.fct_monthly_overages")[0][0] > 0


@pytest.mark.parametrize("seed", EDGE_SEEDS)
def test_edges_equal_the_reference(seed: int, tmp_path: Path) -> None:
    """Rules 9, 11 and 13: NaN, infinite and out-of-range quantities landed as DOUBLE are invalid_quantity, not a
    failed build; rows before the reference data are no_reference_data; rows after the as-of instant never
    move the horizon (at most the as-of month) and wait; future _loaded_at only takes part in rule 2."""
    tables = RawDataSet(seed, edges=True).tables()
    warehouse = tmp_path / f"edges-{seed}.duckdb"
    _build(warehouse, tables, doubles=True)
    _check(warehouse, tables)
    latest = query(warehouse, "select max(billing_month) from marts.fct_monthly_overages")[0][0]
    assert latest is not None and latest <= AS_OF.date().replace(day=1)


def test_the_edge_data_sets_exercise_the_edges_of_the_rules() -> None:
    """The edges comparison means something only if its data hit the edges of rules 9, 11 and 13."""
    data = [RawDataSet(seed, edges=True).tables() for seed in EDGE_SEEDS]
    results = [compute(tables, None, AS_OF) for tables in data]
    reasons = Counter(row["reason"] for result in results for row in result.rejected_rows)
    assert reasons["no_reference_data"] >= 5 and reasons["invalid_quantity"] >= 5, reasons
    tokens = [row["tokens"] for tables in data for row in tables["ai_token_events"] if row["tokens"] is not None]
    assert any(t != t for t in tokens) and float("inf") in tokens and 1e20 in tokens  # NaN, infinity, 1e20
    events = [row["occurred_at"] for tables in data for row in tables["ai_token_events"] if row["occurred_at"]]
    assert any(at.year == 9999 for at in events) and any(at.year < 2000 for at in events)
    loaded = [row["_loaded_at"] for tables in data for rows in tables.values() for row in rows if row["_loaded_at"]]
    assert any(at.year == 2030 for at in loaded)
    monthly = [row for result in results for row in result.monthly_overages]
    assert any(row["billing_month"] == dt.date(2000, 1, 1) for row in monthly)  # subscribed since 1999


def test_the_data_sets_exercise_the_rules() -> None:
    """The comparison means something only if the seeds' data hit the rules: most rejection reasons occur,
    contracts and list prices both bill, a commitment bills above the overage, a JPY org goes over."""
    results = [compute(RawDataSet(seed).tables()) for seed in SEEDS]
    reasons = {row["reason"] for result in results for row in result.rejected_rows}
    assert len(reasons) >= 12, sorted(reasons)
    monthly = [row for result in results for row in result.monthly_overages]
    assert {row["price_source"] for row in monthly} == {"list", "contract"}
    assert any(row["billed_quantity"] > row["overage_quantity"] for row in monthly)  # a commitment bills
    assert any(row["overage_quantity"] > 0 and row["billing_currency"] == "JPY" for row in monthly)
    assert len({row["license_type"] for row in monthly}) == 2


def test_through_month_horizon(tmp_path: Path) -> None:
    tables = RawDataSet(4).tables()
    horizon = min(row["effective_from"] for row in tables["org_subscriptions"] if row["effective_from"])
    through = dt.date(horizon.year, horizon.month, 1)
    through = dt.date(through.year + through.month // 12, through.month % 12 + 1, 1)  # the month after
    warehouse = tmp_path / "through.duckdb"
    _build(warehouse, tables, "--through-month", through.strftime("%Y-%m"))
    _check(warehouse, tables, through)
    assert query(warehouse, "select max(billing_month) from marts.fct_monthly_overages")[0][0] <= through


def test_incremental_build_after_a_second_landing(tmp_path: Path) -> None:
    tables = RawDataSet(5).tables()
    warehouse = tmp_path / "incremental.duckdb"
    _build(warehouse, tables)
    _check(warehouse, tables)
    batch = second_batch(tables, 5)
    land_raw_append(warehouse, batch)
    run_cli("build", "--skip-validate", "--quiet", *AS_OF_OPTION, warehouse=warehouse)
    both = {table: rows + batch[table] for table, rows in tables.items()}
    _check(warehouse, both)
    last = query(warehouse, "select full_refresh, rows_landed_since_previous from audit.build_runs "
                            "order by started_at desc limit 1")[0]  # fmt: skip
    assert last == (False, sum(len(rows) for rows in batch.values()))  # incremental, and it saw the landing


def land_raw_append(warehouse: Path, tables: dict[str, list[dict]]) -> None:
    """Insert more rows into the existing raw tables (a later landing)."""
    con = duckdb.connect(str(warehouse))
    try:
        for table, rows in as_tuples(tables).items():
            if rows:
                placeholders = ", ".join("?" for _ in RAW_TABLES[table])
                con.executemany(f"insert into raw.{table} values ({placeholders})", rows)
    finally:
        con.close()
