"""Shared helpers: land raw tables in a fresh warehouse file, run the real CLI on it, read the marts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

# make test runs the tests in two processes (pytest-xdist, a file each at a time). Each keeps what runs write
# (dbt's target/ and logs/, the checkpoint's gx/ project and results) in a state folder of its own, as an
# installed package does, so that the two never write one log or one checkpoint result at once.
if os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("OVERAGES_STATE_DIR"):
    os.environ["OVERAGES_STATE_DIR"] = str(Path(tempfile.gettempdir()) / "overages-tests"
                                           / os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getppid()))
                                           / os.environ["PYTEST_XDIST_WORKER"])  # fmt: skip

# pyspark, which Great Expectations imports, takes a main module with neither spec nor file for a run of its own
# doctests and exits the process; a pytest-xdist worker's main module (execnet's) is such a one.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<pytest-xdist worker>"

import duckdb  # noqa: E402
import pytest  # noqa: E402

from overages.raw_contract import RAW_TABLES, create_raw_schema_sql  # noqa: E402

PROJECT_DIR = Path(__file__).resolve().parents[2]
OVERAGES = str(Path(sys.executable).with_name("overages"))


def run_cli(*args: str, warehouse: Path | None = None, check: bool = True,
            project: Path | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run the installed `overages` command as a user would (on a copy of the dbt project when `project` is
    given); returns the finished process."""
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    if project is not None:
        env["OVERAGES_PROJECT_DIR"] = str(project)
    if warehouse is not None:
        env["WAREHOUSE_PATH"] = str(warehouse)
    done = subprocess.run([OVERAGES, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900)
    if check and done.returncode != 0:
        raise AssertionError(f"overages {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def copy_project(target: Path) -> Path:
    """A copy of the dbt project to edit (a seed, a model) for one test: the checkout's own files are read by
    the other test process's builds at the same time."""
    # Left out: what set-up, builds and benchmarks write (a benchmark's warehouse alone is gigabytes).
    ignored = shutil.ignore_patterns(".venv", ".git", "node_modules", "target", "logs", "warehouse", "reports",
                                     "uncommitted", "__pycache__", "out", "build", "dist")  # fmt: skip
    return Path(shutil.copytree(PROJECT_DIR, target, ignore=ignored))


def land_raw(path: Path, rows: dict[str, Iterable[Sequence[object]]]) -> None:
    """Create the raw schema as the contract defines it and insert the given rows (tuples in column order)."""
    con = duckdb.connect(str(path))
    try:
        for statement in create_raw_schema_sql():
            con.execute(statement)
        for table, table_rows in rows.items():
            columns = RAW_TABLES[table]
            placeholders = ", ".join("?" for _ in columns)
            for row in table_rows:
                con.execute(f"insert into raw.{table} values ({placeholders})", list(row))
    finally:
        con.close()


def build_file(path: Path) -> Path:
    """The build file of the warehouse whose published snapshot is `path` (overages.publish.build_path): where the
    project's landings write raw tables and builds keep every model."""
    return path.parent / f"{path.stem}.build" / path.name


def raw_file(path: Path) -> Path:
    """Where the warehouse's raw tables are: its build file once anything was landed or built, else `path`."""
    return build_file(path) if build_file(path).exists() else path


def copy_warehouse(source: Path, target: Path) -> Path:
    """A copy of a whole warehouse: the published file, its build file and its kept snapshots."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.exists():
        shutil.copy(source, target)
    for suffix in (".build", ".snapshots"):
        folder = source.parent / f"{source.stem}{suffix}"
        if folder.is_dir():
            copied = shutil.copytree(folder, target.parent / f"{target.stem}{suffix}")
            for inner in copied.glob(f"{source.stem}.duckdb*"):
                inner.rename(inner.with_name(inner.name.replace(source.stem, target.stem, 1)))
    return target


def export_raw(path: Path, folder: Path) -> Path:
    """Write each raw table of a DuckDB warehouse to `folder`/<table>.parquet (what `overages land` reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(raw_file(path)), read_only=True)
    try:
        for table in RAW_TABLES:
            con.execute(f"copy raw.{table} to '{folder / f'{table}.parquet'}' (format parquet)")
    finally:
        con.close()
    return folder


def query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A worker's state folder goes when its tests passed; after a failure its dbt log and results stay."""
    state = os.environ.get("OVERAGES_STATE_DIR", "")
    if os.environ.get("PYTEST_XDIST_WORKER") and exitstatus == 0 and "overages-tests" in Path(state).parts:
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"
