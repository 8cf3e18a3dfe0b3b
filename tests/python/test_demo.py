"""The demo, end to end: land it, build it, and check what an analyst would look at first."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import query, raw_file, run_cli

ALL_REASONS = {
    "missing_id",
    "duplicate",
    "missing_org",
    "missing_timestamp",
    "invalid_quantity",
    "invalid_interval",
    "unknown_license_tier",
    "unknown_license_type",
    "unknown_currency",
    "unknown_feature",
    "no_subscription",
    "contract_currency_mismatch",
    "unknown_case",
}


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    run_cli("demo", "--orgs", "40", "--months", "3", "--seed", "11", warehouse=path)
    built = run_cli("build", warehouse=path)
    return path, built.stdout


def test_build_prints_a_summary(demo_warehouse: tuple[Path, str]) -> None:
    path, output = demo_warehouse
    assert f"Warehouse {path}" in output
    assert "Overage by feature and currency" in output
    assert "balanced" in output and "NOT BALANCED" not in output
    assert "Rejected rows by reason" in output


def test_demo_shows_every_rejection_reason(demo_warehouse: tuple[Path, str]) -> None:
    path, _ = demo_warehouse
    reasons = {r for (r,) in query(path, "select distinct reason from audit.rejected_rows")}
    assert reasons == ALL_REASONS


def test_every_raw_row_is_accounted_for(demo_warehouse: tuple[Path, str]) -> None:
    path, _ = demo_warehouse
    for table, landed, accepted, rejected in query(
        path, "select source_table, rows_landed, rows_accepted, rows_rejected from audit.raw_reconciliation"
    ):
        (raw_count,) = query(raw_file(path), f"select count(*) from raw.{table}")[0]
        assert landed == raw_count == accepted + rejected, table
        assert rejected > 0, table


def test_grid_is_complete_and_amounts_add_up(demo_warehouse: tuple[Path, str]) -> None:
    path, _ = demo_warehouse
    rows, orgs, months = query(
        path, "select count(*), count(distinct org_id), count(distinct billing_month) from marts.fct_monthly_overages"
    )[0]
    grid = query(
        path,
        "select sum(months) from (select org_id, count(distinct billing_month) as months "
        "from marts.fct_monthly_overages group by org_id)",
    )[0][0]
    assert rows == grid * 3 and orgs == 40 and months >= 3
    billed = query(
        path, "select count(*), sum(overage_amount) from marts.fct_monthly_overages where billed_quantity > 0"
    )[0]
    lines = query(path, "select count(*), sum(amount) from marts.fct_invoice_lines")[0]
    assert billed == lines and billed[0] > 0
    # Both sides of the allocation appear: billed rows and unused allocations.
    (unused,) = query(path, "select count(*) from marts.fct_monthly_overages where usage_quantity < free_allocation")[0]
    assert unused > 0


def test_demo_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b", "c"):
        path = tmp_path / f"{name}.duckdb"
        run_cli("demo", "--orgs", "15", "--months", "2", "--seed", "5" if name != "c" else "6", warehouse=path)
        digests.append(
            query(
                raw_file(path),
                "select count(*), sum(hash(event_id, org_id, occurred_at, tokens, _loaded_at)) "
                "from raw.ai_token_events",
            )[0]
        )
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]
