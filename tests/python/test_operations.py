"""Scheduled builds: one at a time, safe after a crash, recorded in audit.build_runs, and observable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import OVERAGES, PROJECT_DIR, build_file, copy_warehouse, query, raw_file, run_cli

MARTS = ("marts.fct_monthly_overages", "marts.fct_invoice_lines", "audit.rejected_rows")


def snapshot(path: Path) -> dict[str, list[tuple]]:
    return {name: query(path, f"select * from {name} order by all") for name in MARTS}


def start_build(path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "WAREHOUSE_PATH": str(path), "DO_NOT_TRACK": "1"}
    command = [OVERAGES, "build", "--skip-validate", *args]
    return subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip


def wait_for_progress(build: subprocess.Popen[str], marker: str, timeout: float = 120) -> list[str]:
    """Read the build's progress lines (stderr) until one contains `marker`."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert build.stderr is not None
    while time.monotonic() < deadline:
        line = build.stderr.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"never saw {marker!r}; saw:\n{''.join(seen)}")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ops") / "w.duckdb"
    run_cli("demo", "--orgs", "40", "--months", "3", "--seed", "9", warehouse=path)
    run_cli("build", "--skip-validate", warehouse=path)
    return path


def test_a_second_build_at_once_is_refused_and_nothing_is_corrupted(built: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    copy_warehouse(built, path)
    before = snapshot(path)
    first = start_build(path, "--full-refresh")
    try:
        wait_for_progress(first, "building with dbt")
        second = run_cli("build", "--quiet", "--skip-validate", warehouse=path, check=False)
        assert second.returncode == 75
        assert second.stderr.strip().count("\n") == 0, second.stderr
        assert "is being built" in second.stderr and "try again when it finishes" in second.stderr
        assert "Traceback" not in second.stderr
        # A landing would replace raw tables the build is reading: refused the same way, nothing landed.
        landing = run_cli("demo", "--orgs", "3", "--months", "1", warehouse=path, check=False)
        assert landing.returncode == 75 and landing.stderr.strip().count("\n") == 0, landing.stderr
        assert "is being built" in landing.stderr and "Traceback" not in landing.stderr
    finally:
        out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert snapshot(path) == before
    assert query(raw_file(path), "select count(distinct org_id) from raw.org_subscriptions")[0][0] > 3
    outcomes = query(path, "select outcome from audit.build_runs order by started_at")
    assert outcomes[-1] == ("success",)


def test_a_build_killed_half_way_leaves_readable_marts_and_the_next_one_completes(built: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    copy_warehouse(built, path)
    before = snapshot(path)
    victim = start_build(path, "--full-refresh")
    wait_for_progress(victim, "int_ai_token_events_validated")
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=60)
    # The previous marts are still there and readable.
    assert snapshot(path) == before
    run_cli("build", "--skip-validate", warehouse=path)
    assert snapshot(path) == before
    outcomes = [o for (o,) in query(path, "select outcome from audit.build_runs order by started_at")]
    assert outcomes[-2:] == ["interrupted", "success"]


def test_build_runs_records_what_each_build_did(built: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    copy_warehouse(built, path)
    import duckdb

    con = duckdb.connect(str(raw_file(path)))
    # Landed after the demo (which lands as of today's first instant), so an incremental build sees them.
    landed = datetime.now(UTC).replace(tzinfo=None)
    con.execute("insert into raw.ai_token_events select 'ev-new-' || i, 'org-00001', timestamp '2026-09-14 10:00:00', "
                "2.5, 'copilot', ? from range(7) t(i)", [landed])  # fmt: skip
    con.close()
    done = run_cli("build", "--skip-validate", "--json", warehouse=path)
    document = json.loads(done.stdout)
    assert document["build"]["outcome"] == "success"
    assert document["build"]["months_rebuilt"] == ["2026-09"]
    assert document["build"]["rows_landed_since_previous"] == 7
    assert document["build"]["rows_rejected_since_previous"] == 0
    assert document["summary"]["raw_rows"]["balanced"] is True
    # Where the time went: every dbt node that ran, the slowest first; no checkpoint when it is skipped.
    dbt = document["dbt"]
    assert dbt["nodes"] > 100 and dbt["node_seconds"] > 0
    slowest = [node["seconds"] for node in dbt["slowest"]]
    assert len(slowest) == 8 and slowest == sorted(slowest, reverse=True)
    assert document["checkpoint_seconds"] is None
    assert done.stderr == ""  # --json prints no progress
    last = query(path, "select outcome, months_rebuilt, rows_landed_since_previous from audit.build_runs "
                       "order by started_at desc limit 1")  # fmt: skip
    assert last == [("success", "2026-09", 7)]


def test_status_shows_builds_and_freshness(built: Path) -> None:
    done = run_cli("status", warehouse=built)
    assert "Last builds (audit.build_runs, newest first):" in done.stdout
    assert "success" in done.stdout
    for table in ("raw.org_subscriptions", "raw.ai_token_events", "raw.contract_rates"):
        assert table in done.stdout
    document = json.loads(run_cli("status", "--json", warehouse=built).stdout)
    assert document["builds"][0]["outcome"] == "success"
    by_table = {t["table"]: t for t in document["raw_tables"]}
    (rows,) = query(raw_file(built), "select count(*) from raw.cases")[0]
    assert by_table["raw.cases"]["rows"] == rows
    # The demo lands as of today's first instant: fresh right after it lands.
    assert {t["freshness"] for t in document["raw_tables"]} == {"ok"}


def test_status_reports_a_stale_table(built: Path, tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "w.duckdb"
    copy_warehouse(built, path)
    con = duckdb.connect(str(raw_file(path)))
    con.execute("update raw.cases set _loaded_at = _loaded_at - interval 8 days")
    con.execute("update raw.ai_token_events set _loaded_at = _loaded_at - interval 3 days")
    con.close()
    # status reads the freshness the published build saw: build what was landed.
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    by_table = {t["table"]: t for t in json.loads(run_cli("status", "--json", warehouse=path).stdout)["raw_tables"]}
    # Past the 7-day error threshold, and past the 2-day warning.
    assert (by_table["raw.cases"]["freshness"], by_table["raw.ai_token_events"]["freshness"]) == ("error", "warn")


def test_progress_lines_count_nodes(built: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    copy_warehouse(built, path)
    done = run_cli("build", "--skip-validate", "--force", warehouse=path)
    steps = [line for line in done.stderr.splitlines() if line.startswith("   [")]
    assert len(steps) > 100
    done_count, total = steps[-1].split("]")[0].strip(" [").split("/")
    assert done_count == total
    assert "-- building with dbt (incremental)" in done.stderr
    quiet = run_cli("build", "--skip-validate", "--quiet", "--force", warehouse=path)
    assert quiet.stderr == ""


def test_resource_settings_are_checked(built: Path) -> None:
    done = run_cli("build", "--quiet", "--memory-limit", "lots", warehouse=built, check=False)
    assert done.returncode != 0 and "is not a memory size" in done.stderr and "Traceback" not in done.stderr


def test_tests_of_large_tables_check_every_row_unless_the_previous_build_succeeded(built: Path, tmp_path: Path) -> None:
    """After a successful build, the generic tests of the validated tables check the rows the build wrote; after
    a failed or interrupted build, and on a full refresh, every row."""
    import duckdb

    from overages.dbt_invoke import target_path

    path = tmp_path / "w.duckdb"
    copy_warehouse(built, path)
    compiled = target_path(build_file(path)) / "compiled" / "overages" / "models" / "intermediate" / "billing"
    not_null_sql = compiled / "int_cases_validated.yml" / "not_null_int_cases_validated_day_key.sql"

    def scoped() -> tuple[bool, bool]:
        unique_sql = next((compiled / "int_ai_token_events_validated.yml").glob("unique_combination_*event_id*.sql"))
        return "_batch_at = cast(" in unique_sql.read_text(), "_batch_at = cast(" in not_null_sql.read_text()

    run_cli("build", "--skip-validate", "--quiet", "--force", warehouse=path)
    assert scoped() == (True, True)
    con = duckdb.connect(str(build_file(path)))
    con.execute("update audit.build_runs set outcome = 'failed' "
                "where started_at = (select max(started_at) from audit.build_runs)")  # fmt: skip
    con.close()
    run_cli("build", "--skip-validate", "--quiet", "--force", warehouse=path)
    assert scoped() == (False, False)
    run_cli("build", "--skip-validate", "--quiet", "--force", warehouse=path)
    assert scoped() == (True, True)
    run_cli("build", "--skip-validate", "--quiet", "--full-refresh", warehouse=path)
    assert scoped() == (False, False)


def _land_late_events(path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(raw_file(path)))
    # Landed after every row already there (the demo's dates follow today's), so an incremental build follows.
    con.execute("insert into raw.ai_token_events select 'ev-late-' || i, 'org-0000' || (1 + i % 3), "
                "timestamp '2026-08-03 10:00:00' + to_days(cast(i as integer)), 400, 'copilot', "
                "(select max(_loaded_at) from raw.ai_token_events) + interval 1 minute "
                "from range(40) t(i)")  # fmt: skip
    con.close()


def _last_build(path: Path) -> tuple[str, str, int]:
    return query(path, "select outcome, months_rebuilt, rows_landed_since_previous from audit.build_runs "
                       "where outcome <> 'interrupted' order by started_at desc limit 1")[0]  # fmt: skip


def test_a_catch_up_build_after_a_kill_records_what_an_uninterrupted_one_does(built: Path, tmp_path: Path) -> None:
    calm, killed = tmp_path / "calm" / "w.duckdb", tmp_path / "killed" / "w.duckdb"
    for path in (calm, killed):
        copy_warehouse(built, path)
        _land_late_events(path)
    run_cli("build", "--skip-validate", "--quiet", warehouse=calm)
    victim = start_build(killed)
    wait_for_progress(victim, "int_token_usage_summed_to_months")  # the validated events are written by now
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=60)
    run_cli("build", "--skip-validate", "--quiet", warehouse=killed)
    expected = _last_build(calm)
    assert expected[0] == "success" and expected[2] == 40
    assert expected[1] and set(expected[1].split(", ")) <= {"2026-08", "2026-09"}
    assert _last_build(killed) == expected
    assert snapshot(killed) == snapshot(calm)


def test_rows_landed_count_a_re_landing_and_are_never_negative(built: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    copy_warehouse(built, path)
    (cases,) = query(raw_file(path), "select count(*) from raw.cases")[0]
    run_cli("demo", "--orgs", "40", "--months", "3", "--seed", "9", warehouse=path)  # the same rows, landed again
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    (landed,) = query(path, "select rows_landed_since_previous from audit.build_runs order by started_at desc limit 1")[
        0
    ]
    assert landed >= cases
    run_cli("demo", "--orgs", "5", "--months", "1", "--seed", "9", warehouse=path)  # fewer rows than before
    done = run_cli("build", "--skip-validate", "--json", warehouse=path)
    document = json.loads(done.stdout)
    (smaller,) = query(raw_file(path), "select count(*) from raw.ai_token_events")[0]
    assert document["build"]["rows_landed_since_previous"] >= smaller > 0
