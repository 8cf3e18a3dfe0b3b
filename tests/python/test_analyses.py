"""The questions analysts ask (analyses/): each compiles and runs on the demo, and answers correctly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR, run_cli

ANALYSES = sorted(p.stem for p in (PROJECT_DIR / "analyses").glob("*.sql"))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("analyses")
    path = folder / "demo.duckdb"
    run_cli("demo", "--orgs", "30", "--months", "3", "--seed", "12", warehouse=path)
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    # Compiled against the published file, read-only (profiles.yml's duckdb_read_only), as a reader would.
    env = {**os.environ, "WAREHOUSE_PATH": str(path), "DO_NOT_TRACK": "1", "DBT_TARGET": "duckdb_read_only",
           "WAREHOUSE_DATABASE": path.stem}  # fmt: skip
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "compile", "--select", "path:analyses", "--quiet",
         "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), "--target-path", str(folder / "t")],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    sql = {p.stem: p.read_text() for p in (folder / "t").rglob("analyses/*.sql")}
    return path, sql


def run(compiled: tuple[Path, dict[str, str]], name: str) -> tuple[list[str], list[tuple]]:
    path, sql = compiled
    con = duckdb.connect(str(path), read_only=True)
    try:
        result = con.execute(sql[name])
        return [d[0] for d in result.description], result.fetchall()
    finally:
        con.close()


def test_every_analysis_is_documented_and_compiles(compiled: tuple[Path, dict[str, str]]) -> None:
    assert len(ANALYSES) >= 7
    assert set(compiled[1]) == set(ANALYSES)
    for name in ANALYSES:
        assert (PROJECT_DIR / "analyses" / f"{name}.sql").read_text().lstrip().startswith("{#"), name


@pytest.mark.parametrize("name", ANALYSES)
def test_every_analysis_runs(compiled: tuple[Path, dict[str, str]], name: str) -> None:
    columns, rows = run(compiled, name)
    assert columns and rows, name


def test_price_list_consistency_finds_the_published_departure(compiled: tuple[Path, dict[str, str]]) -> None:
    columns, rows = run(compiled, "price_list_consistency")
    departing = [dict(zip(columns, r, strict=True)) for r in rows if r[columns.index("departs")]]
    assert [(d["feature"], d["currency"], d["published_figure"]) for d in departing] == [
        ("case_management", "BRL", "0.1600")
    ]


def test_month_over_month_change_is_the_difference(compiled: tuple[Path, dict[str, str]]) -> None:
    columns, rows = run(compiled, "month_over_month_overage")
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    with_previous = [r for r in records if r["previous_overage_amount"] is not None]
    assert with_previous
    assert all(r["change"] == r["overage_amount"] - r["previous_overage_amount"] for r in with_previous)


def test_quarter_utilisation_counts_match_the_mart(compiled: tuple[Path, dict[str, str]]) -> None:
    path, _ = compiled
    columns, rows = run(compiled, "orgs_using_under_a_quarter_of_an_allocation")
    con = duckdb.connect(str(path), read_only=True)
    expected = con.execute(
        "select billing_month, feature, count(*) filter (where usage_quantity < free_allocation / 4) "
        "from marts.fct_monthly_overages group by all order by all"
    ).fetchall()
    con.close()
    got = [(r[0], r[1], r[columns.index("orgs_under_a_quarter")]) for r in rows]
    assert got == expected


def test_largest_billing_differences_are_the_demo_s_deliberate_ones(compiled: tuple[Path, dict[str, str]]) -> None:
    columns, rows = run(compiled, "largest_billing_differences")
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    assert sorted(r["status"] for r in records) == sorted(
        ["quantity_differs", "rate_differs", "amount_differs", "only_in_genesys", "only_here"]
    )
    at_stake = [abs(r["amount_at_stake"]) for r in records]
    assert at_stake == sorted(at_stake, reverse=True) and all(a > 0 for a in at_stake)
    assert [r["difference_rank"] for r in records] == list(range(1, len(records) + 1))


def test_the_cli_lists_and_runs_an_analysis(compiled: tuple[Path, dict[str, str]]) -> None:
    path, _ = compiled
    listed = run_cli("analyses").stdout
    assert all(name in listed for name in ANALYSES)
    before = path.stat().st_mtime_ns
    done = run_cli("analyses", "top_overage_orgs_this_month", "--limit", "3", warehouse=path)
    assert path.stat().st_mtime_ns == before  # read-only
    out = done.stdout.splitlines()
    columns, rows = run(compiled, "top_overage_orgs_this_month")
    assert out[0].split() == columns  # the result, not the compiled SQL
    assert [line.split()[0] for line in out[2:5]] == [row[0] for row in rows[:3]]
    assert out[-1] == f"{len(rows):,} rows (first 3 shown; --limit to see more)"
    missing = run_cli("analyses", "no_such_question", warehouse=path, check=False)
    assert missing.returncode != 0 and "no analysis 'no_such_question'" in missing.stderr
    assert missing.stderr.strip().count("\n") == 0


def test_amounts_print_in_their_currency_minor_units() -> None:
    from decimal import Decimal

    from overages.analyses import render

    columns = ["org_id", "billing_currency", "overage_amount", "list_amount_usd", "unit_price", "usage_quantity",
               "change", "quantity_difference", "difference_rank"]  # fmt: skip
    rows = [
        ("a", "EUR", Decimal("3.2000"), Decimal("3.5000"), Decimal("0.3200"), Decimal("160.0000"), Decimal("-1.5"),
         Decimal("3.0000"), 1),
        ("b", "JPY", Decimal("18000.0000"), Decimal("120.0000"), Decimal("48.0000"), Decimal("2.5000"), Decimal(0),
         Decimal("0.5000"), 2),
    ]  # fmt: skip
    lines = render(columns, rows, 10, {"EUR": 2, "JPY": 0, "USD": 2}).splitlines()
    # Amounts in the row's currency (EUR cents, whole yen), a *_usd one in USD; prices, quantities and ranks as
    # they are.
    assert lines[2].split() == ["a", "EUR", "3.20", "3.50", "0.32", "160", "-1.50", "3", "1"]
    assert lines[3].split() == ["b", "JPY", "18000", "120.00", "48", "2.5", "0", "0.5", "2"]
