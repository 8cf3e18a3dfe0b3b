"""Month to date: the month in progress projected to its end from the run rate, and the alert list."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from conftest import land_raw, query, run_cli


def test_run_rate_projection_and_alerts(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    loaded = "2026-10-10 01:00:00"
    land_raw(path, {
        "org_subscriptions": [("org-a", "A", "CX1", "named", "USD", "2026-09-01 00:00:00", "2026-09-01 00:00:00")],
        # 60 cases and 100 tokens in October's first 9 days; the latest activity is 10 October 00:00.
        "cases": [(f"c{i}", "org-a", f"2026-10-0{1 + i % 9} 08:00:00", loaded) for i in range(59)]
                 + [("c-last", "org-a", "2026-10-10 00:00:00", loaded)],
        "ai_token_events": [("e1", "org-a", "2026-10-05 00:00:00", 100, "copilot", loaded)],
        "wallboard_accounts": [(f"w{i}", "org-a", "2026-10-02 00:00:00", None, loaded) for i in range(2)],
    })  # fmt: skip
    # The build's as-of instant (rule 11) is the instant the projection runs to: both read the same one.
    run_cli("build", "--skip-validate", "--quiet", "--as-of", "2026-10-10 00:00:00", warehouse=path)
    rows = query(path, "select feature, cast(as_of as varchar), elapsed_fraction, usage_so_far, projected_usage, "
                       "projected_overage, projected_overage_amount, is_projected_over_allocation, is_alert, "
                       "is_new_alert from marts.fct_month_to_date_projections order by feature")  # fmt: skip
    # 9 of October's 31 days have passed: 60 cases project to 60 / (9/31) = 206.6667, 100 tokens to 344.4444.
    assert rows == [
        ("ai_tokens", "2026-10-10 00:00:00", Decimal("0.290323"), Decimal("100.0000"), Decimal("344.4444"),
         Decimal("94.4444"), Decimal("94.4400"), True, True, True),
        ("case_management", "2026-10-10 00:00:00", Decimal("0.290323"), Decimal("60.0000"), Decimal("206.6667"),
         Decimal("56.6667"), Decimal("22.6700"), True, True, True),
        # Wallboard accounts are billed per account active at any instant: the two so far are the projection.
        ("wallboard", "2026-10-10 00:00:00", Decimal("0.290323"), Decimal("2.0000"), Decimal("2.0000"),
         Decimal("1.0000"), Decimal("18.0000"), True, True, False),
    ]  # fmt: skip


def test_no_alert_for_a_fraction_of_a_case_or_a_zero_amount(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    loaded = "2026-10-16 11:00:00"
    land_raw(path, {
        "org_subscriptions": [("org-a", "A", "CX1", "named", "USD", "2026-09-01 00:00:00", "2026-09-01 00:00:00")],
        "cases": [(f"c{i}", "org-a", "2026-10-02 08:00:00", loaded) for i in range(75)],
        "ai_token_events": [("e1", "org-a", "2026-10-16 11:00:00", 1, "copilot", loaded)],
    })  # fmt: skip
    # 75 cases as of 16 October 11:59, a minute short of half the month: the projection is 150.0067 cases against
    # 150 free, over, but not by a whole case.
    run_cli("build", "--skip-validate", "--quiet", "--as-of", "2026-10-16 11:59:00", warehouse=path)
    rows = query(path, "select projected_usage, projected_overage_amount, is_projected_over_allocation, is_alert, "
                       "is_new_alert from marts.fct_month_to_date_projections "
                       "where feature = 'case_management'")  # fmt: skip
    assert rows == [(Decimal("150.0067"), Decimal("0.0000"), True, False, False)]
