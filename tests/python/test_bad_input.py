"""Bad input gets one clear line and a non-zero exit, never a traceback, and never a half-written mart."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from conftest import copy_warehouse, land_raw, query, raw_file, run_cli

SUBSCRIPTION = ("org-a", "Org A", "CX1", "named", "USD", "2026-09-01 00:00:00", "2026-09-01 01:00:00")
CASE = ("case-1", "org-a", "2026-10-03 10:00:00", "2026-10-03 11:00:00")


def assert_one_line_error(done, *fragments: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("built") / "warehouse.duckdb"
    land_raw(path, {"org_subscriptions": [SUBSCRIPTION], "cases": [CASE]})
    run_cli("build", "--skip-validate", warehouse=path)
    return path


@pytest.fixture
def built(built_once: Path, warehouse: Path) -> Path:
    """A built warehouse of this test's own (a copy of the module's)."""
    return copy_warehouse(built_once, warehouse)


def mart_rows(path: Path) -> list[tuple]:
    return query(path, "select * from marts.fct_monthly_overages order by all")


def test_missing_warehouse_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.duckdb"
    done = run_cli("build", "--quiet", "--warehouse", str(missing), check=False)
    assert_one_line_error(done, "does not exist", str(missing))
    assert not missing.exists()


@pytest.mark.parametrize(
    "statement, fragment",
    [
        ("drop table raw.cases", "table raw.cases is missing"),
        ("alter table raw.ai_token_events drop column tokens", "column raw.ai_token_events.tokens is missing"),
        ("alter table raw.cases alter column created_at type varchar", "raw.cases.created_at is VARCHAR"),
    ],
)
def test_broken_raw_contract_leaves_marts_untouched(built: Path, statement: str, fragment: str) -> None:
    before = mart_rows(built)
    con = duckdb.connect(str(raw_file(built)))
    con.execute(statement)
    con.execute(
        "insert into raw.org_subscriptions values ('org-b', 'Org B', 'CX1', 'named', 'EUR', '2026-09-01', '2026-09-02')"
    )
    con.close()
    done = run_cli("build", "--quiet", warehouse=built, check=False)
    assert_one_line_error(done, "landing contract", fragment)
    assert mart_rows(built) == before
    # The refused build is on the record, as failed with its message (the build file's copy, and status).
    (outcome, message), *_ = query(raw_file(built), "select outcome, message from audit.build_runs "
                                                    "order by started_at desc limit 1")  # fmt: skip
    assert outcome == "failed" and fragment in message
    status = json.loads(run_cli("status", "--json", warehouse=built).stdout)
    assert any(fragment in (b.get("message") or "") for b in status["builds"]), status["builds"]


def test_bad_month_argument(built: Path) -> None:
    done = run_cli("build", "--through-month", "2026-13", warehouse=built, check=False)
    assert_one_line_error(done, "is not a month: write it as YYYY-MM", "overages build --help")


@pytest.mark.parametrize(("args", "env", "fragment"), [
    (["build", "--threads", "0"], {}, "'--threads': 0 is not in the range"),
    (["build"], {"OVERAGES_KEEP_SNAPSHOTS": "abc"}, "'abc' is not a valid integer"),
    (["no-such-command"], {}, "No such command 'no-such-command'"),
    (["report", "--no-such-option"], {}, "No such option '--no-such-option'"),
])  # fmt: skip
def test_usage_errors_are_one_line(args: list[str], env: dict[str, str], fragment: str, built: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    done = run_cli(*args, warehouse=built, check=False)
    assert_one_line_error(done, fragment, "--help)")
    assert done.returncode == 2


def test_empty_raw_tables_build_empty_marts(warehouse: Path) -> None:
    land_raw(warehouse, {})
    done = run_cli("build", warehouse=warehouse)
    assert "raw.org_subscriptions is empty" in done.stderr
    assert mart_rows(warehouse) == []
    assert query(warehouse, "select count(*) from audit.rejected_rows") == [(0,)]
    assert query(warehouse, "select bool_and(is_balanced), sum(rows_landed) from audit.raw_reconciliation") == [
        (True, 0)
    ]


def test_usage_without_subscriptions_is_rejected_not_lost(warehouse: Path) -> None:
    land_raw(warehouse, {"cases": [CASE]})
    run_cli("build", warehouse=warehouse)
    assert query(warehouse, "select source_table, record_id, reason from audit.rejected_rows") == [
        ("cases", "case-1", "no_subscription")
    ]


def test_a_warehouse_held_by_another_writer(built: Path) -> None:
    holder = duckdb.connect(str(built))
    try:
        done = run_cli("build", "--quiet", warehouse=built, check=False)
    finally:
        holder.close()
    assert_one_line_error(done, "cannot open warehouse")


@pytest.mark.parametrize("name", ["raw.duckdb", "marts.duckdb"])
def test_a_file_named_like_a_schema(tmp_path: Path, name: str) -> None:
    done = run_cli("demo", "--orgs", "2", "--warehouse", str(tmp_path / name), check=False)
    assert_one_line_error(done, f"cannot be called {name}", "rename it")
    assert not (tmp_path / name).exists()
