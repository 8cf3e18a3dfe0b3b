"""Write, audit, publish: readers hold and poll the published file through builds with no error and only whole
snapshots; a build that fails its checks, is killed or runs out of disk leaves the previous snapshot published;
kept snapshots can be listed and published again. Readers and builds are real processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import OVERAGES, copy_project, copy_warehouse, land_raw, query, run_cli

READER = str(Path(__file__).with_name("snapshot_reader.py"))
SNAPSHOT_SQL = ("select cast(sum(overage_amount) as varchar), count(*), (select max(build_id) from audit.snapshot) "
                "from marts.fct_monthly_overages")  # fmt: skip


def snapshot_of(path: Path) -> tuple[str, int, str]:
    return query(path, SNAPSHOT_SQL)[0]


def demo(path: Path, seed: int, orgs: int = 20) -> None:
    run_cli("demo", "--orgs", str(orgs), "--months", "2", "--seed", str(seed), warehouse=path)


def start_reader(mode: str, path: Path, folder: Path) -> tuple[subprocess.Popen[bytes], Path]:
    out = folder / f"{mode}.jsonl"
    process = subprocess.Popen([sys.executable, READER, mode, str(path), str(folder / "stop"), str(out)])
    return process, out


def readings(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def wait_for_readings(out: Path, count: int = 1, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and len(readings(out)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{out.name}: the reader read nothing in {timeout} s")


@pytest.fixture(scope="module")
def published_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("published") / "overages.duckdb"
    demo(path, seed=31)
    run_cli("build", "--quiet", warehouse=path)
    return path


@pytest.fixture
def published(published_once: Path, tmp_path: Path) -> Path:
    """A published warehouse of this test's own (a copy of the module's, its build file and snapshots too)."""
    return copy_warehouse(published_once, tmp_path / "wh" / "overages.duckdb")


def test_readers_hold_and_poll_the_published_file_through_a_build(published: Path, tmp_path: Path) -> None:
    first = snapshot_of(published)
    folder = tmp_path / "readers"
    folder.mkdir()
    holders = [start_reader("hold-duckdb", published, folder), start_reader("hold-sqlalchemy", published, folder)]
    poller = start_reader("poll", published, folder)
    try:
        for _, out in [*holders, poller]:
            wait_for_readings(out)
        demo(published, seed=32, orgs=25)  # lands in the build file while the readers hold the published one
        done = run_cli("build", "--quiet", warehouse=published)
        assert "Published build" in done.stdout
        second = snapshot_of(published)
        wait_for_readings(poller[1], len(readings(poller[1])) + 3)
    finally:
        (folder / "stop").touch()
        for process, _ in [*holders, poller]:
            process.wait(timeout=60)
    assert second[2] != first[2] and (second[0], second[1]) != (first[0], first[1])
    for _, out in holders:  # a connection opened before the publication keeps its snapshot, whole
        seen = readings(out)
        assert len(seen) >= 20, out.name
        assert [r for r in seen if "error" in r] == [], out.name
        assert {(r["total"], r["rows"], r["build"]) for r in seen} == {first}, out.name
    polled = readings(poller[1])
    assert [r for r in polled if "error" in r] == []
    assert {(r["total"], r["rows"], r["build"]) for r in polled} == {first, second}  # never a mix of two builds
    assert (polled[-1]["total"], polled[-1]["rows"], polled[-1]["build"]) == second


def test_a_failing_expectation_publishes_nothing(published: Path, tmp_path: Path) -> None:
    before = snapshot_of(published)
    project = copy_project(tmp_path / "project")
    seed = project / "seeds" / "reference" / "ref_free_allocations.csv"
    lines = seed.read_text().splitlines()
    edited = [line.replace(",wallboard,1,", ",wallboard,2,") for line in lines]
    assert edited != lines
    seed.write_text("\n".join(edited) + "\n")
    env = {**os.environ, "DO_NOT_TRACK": "1", "WAREHOUSE_PATH": str(published), "OVERAGES_PROJECT_DIR": str(project)}
    done = subprocess.run([OVERAGES, "build", "--quiet"], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().startswith("error: validation failed") and len(done.stderr.strip().splitlines()) == 1
    assert snapshot_of(published) == before
    status = run_cli("status", warehouse=published).stdout
    assert f"Published snapshot: build {before[2]}" in status
    assert "Builds since that did not publish: 1 (latest: validation_failed: validation failed" in status


def wait_for(marker: Path, process: subprocess.Popen[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.exists():
            return
        if process.poll() is not None:
            raise AssertionError(f"the build ended ({process.returncode}) before its pause point")
        time.sleep(0.05)
    raise AssertionError("the build never reached its pause point")


def paused_build(path: Path, point: str, marker: Path, seconds: float = 300) -> subprocess.Popen[str]:
    env = {**os.environ, "DO_NOT_TRACK": "1", "WAREHOUSE_PATH": str(path), "OVERAGES_TEST_PAUSE_AT": point,
           "OVERAGES_TEST_PAUSE_FILE": str(marker), "OVERAGES_TEST_PAUSE_SECONDS": str(seconds)}  # fmt: skip
    process = subprocess.Popen([OVERAGES, "build", "--quiet", "--force"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    wait_for(marker, process)
    return process


@pytest.mark.parametrize(
    "point",
    ["publish:before-snapshot", "publish:writing-snapshot", "publish:before-rename", "publish:after-rename"],
)
def test_a_build_killed_while_publishing_leaves_a_whole_snapshot(published: Path, tmp_path: Path, point: str) -> None:
    before = snapshot_of(published)
    demo(published, seed=33, orgs=24)
    process = paused_build(published, point, tmp_path / "paused")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    now = snapshot_of(published)  # readable, and one build's whole snapshot
    killed_published = point == "publish:after-rename"
    if killed_published:
        assert now[2] != before[2]
    else:
        assert now == before
    run_cli("build", "--quiet", warehouse=published)
    after = snapshot_of(published)
    outcomes = query(published, "select outcome, published_at is not null from audit.build_runs order by started_at")
    assert outcomes[-1] == ("success", True)
    assert outcomes[-2] == (("success", True) if killed_published else ("interrupted", False))
    assert after[0] == now[0] if killed_published else after[0] != before[0]
    leftovers = [p.name for p in published.parent.rglob("*") if ".partial" in p.name or ".publishing" in p.name]
    assert leftovers == []


def test_publish_list_and_rollback(published: Path) -> None:
    first = snapshot_of(published)
    demo(published, seed=34, orgs=22)
    run_cli("build", "--quiet", warehouse=published)
    second = snapshot_of(published)
    listed = run_cli("publish", "--list", warehouse=published).stdout
    assert f"* {second[2]}" in listed and f"  {first[2]}" in listed
    run_cli("publish", "--rollback", first[2], warehouse=published)
    assert snapshot_of(published) == first
    assert f"* {first[2]}" in run_cli("publish", "--list", warehouse=published).stdout
    unknown = run_cli("publish", "--rollback", "nope", warehouse=published, check=False)
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: no kept snapshot of build 'nope'")
    # The next build publishes its own snapshot again; only the newest few are kept.
    run_cli("build", "--quiet", "--keep-snapshots", "2", warehouse=published)
    kept = sorted(p.stem for p in (published.parent / "overages.snapshots").glob("*.duckdb"))
    assert len(kept) == 2 and snapshot_of(published)[2] == kept[-1]


def test_raw_tables_written_into_the_published_file_are_taken_over(tmp_path: Path) -> None:
    """The way a warehouse was fed before it had a build file: raw tables in WAREHOUSE_PATH itself."""
    path = tmp_path / "direct.duckdb"
    subscription = ("o1", "Org One", "CX2", "named", "USD", "2026-01-01 00:00:00", "2026-01-02 00:00:00")
    events = [(f"e{i}", "o1", "2026-03-10 10:00:00", Decimal("100"), "copilot", "2026-03-11 00:00:00")
              for i in range(3)]  # fmt: skip
    land_raw(path, {"org_subscriptions": [subscription], "ai_token_events": events})
    run_cli("build", "--quiet", warehouse=path)
    usage = "select usage_quantity from marts.fct_monthly_overages where feature = 'ai_tokens' and billing_month = "
    assert query(path, usage + "'2026-03-01'") == [(Decimal("300.0000"),)]
    # The snapshot keeps those raw tables, so such a landing can go on appending to them.
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("insert into raw.ai_token_events values ('e9', 'o1', '2026-03-20 10:00:00', 50, 'copilot', "
                "'2026-03-21 00:00:00')")  # fmt: skip
    con.close()
    run_cli("build", "--quiet", warehouse=path)
    assert query(path, usage + "'2026-03-01'") == [(Decimal("350.0000"),)]
    # A build with nothing new takes nothing over.
    done = run_cli("build", warehouse=path)
    assert "took over raw tables" not in done.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a tmpfs needs root")
def test_a_full_disk_during_publication_leaves_the_previous_snapshot(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"this machine does not allow mounting a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        path = disk / "overages.duckdb"
        demo(path, seed=35)
        run_cli("build", "--quiet", warehouse=path)
        before = snapshot_of(path)
        marker = tmp_path / "paused"
        process = paused_build(path, "publish:before-snapshot", marker, seconds=4)
        free = shutil.disk_usage(disk).free
        with open(disk / "filler", "wb") as filler:  # leave the publication less than a snapshot's room
            os.posix_fallocate(filler.fileno(), 0, free - 256 * 1024)
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 1, stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: could not publish the snapshot of build"), stderr
        assert "still holds the previous snapshot" in lines[0]
        assert snapshot_of(path) == before
        (disk / "filler").unlink()
        status = run_cli("status", warehouse=path).stdout
        assert "Builds since that did not publish: 1 (latest: publish_failed" in status
        run_cli("build", "--quiet", warehouse=path)
        assert snapshot_of(path)[2] != before[2]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
