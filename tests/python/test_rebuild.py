"""Re-running a build on the same raw data gives identical marts."""

from __future__ import annotations

from pathlib import Path

from conftest import build_file, query, run_cli

MARTS = (
    "marts.fct_monthly_overages",
    "marts.fct_invoice_lines",
    "marts.dim_orgs",
    "marts.dim_org_months",
    "audit.rejected_rows",
    "audit.raw_reconciliation",
)


def snapshot(path: Path) -> dict[str, list[tuple]]:
    return {name: query(path, f"select * from {name} order by all") for name in MARTS}


def test_second_build_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    run_cli("demo", "--orgs", "20", "--months", "2", "--seed", "3", warehouse=path)
    run_cli("build", warehouse=path)
    first = snapshot(path)
    assert "Nothing new since build" in run_cli("build", warehouse=path).stdout  # nothing to run
    run_cli("build", "--force", warehouse=path)  # run anyway: the same marts again
    assert snapshot(path) == first
    assert all(first[name] for name in MARTS)


def test_through_month_cuts_the_horizon_and_keeps_later_rows(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    run_cli("demo", "--orgs", "10", "--months", "3", "--end-month", "2026-10", "--seed", "3", warehouse=path)
    run_cli("build", "--through-month", "2026-09", warehouse=path)
    months = {m.isoformat() for (m,) in query(path, "select distinct billing_month from marts.fct_monthly_overages")}
    assert max(months) == "2026-09-01"
    # October's events are accepted (waiting for a later build), not rejected.
    (october_rejected,) = query(
        build_file(path),
        "select count(*) from audit.rejected_rows r join raw.ai_token_events e on r.record_id = e.event_id "
        "where e.occurred_at >= '2026-10-01' and r.reason not in ('duplicate', 'invalid_quantity', "
        "'missing_org', 'no_subscription')",
    )[0]
    assert october_rejected == 0
    assert query(path, "select bool_and(is_balanced) from audit.raw_reconciliation") == [(True,)]
