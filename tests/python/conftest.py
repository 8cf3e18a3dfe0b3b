"""Shared helpers: land raw tables in a fresh warehouse file, run the real CLI on it, read the marts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import pytest

from overages.raw_contract import RAW_TABLES, create_raw_schema_sql

PROJECT_DIR = Path(__file__).resolve().parents[2]
OVERAGES = str(Path(sys.executable).with_name("overages"))


def run_cli(*args: str, warehouse: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the installed `overages` command as a user would; returns the finished process."""
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    if warehouse is not None:
        env["WAREHOUSE_PATH"] = str(warehouse)
    done = subprocess.run([OVERAGES, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900)
    if check and done.returncode != 0:
        raise AssertionError(f"overages {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


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


def export_raw(path: Path, folder: Path) -> Path:
    """Write each raw table of a DuckDB warehouse to `folder`/<table>.parquet (what `overages land` reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=True)
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


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"
