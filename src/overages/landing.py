"""Landing raw data from parquet files: one file (or folder of files) per raw table, named after it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from overages.errors import OveragesError
from overages.raw_contract import NUMBER, RAW_SCHEMA, RAW_TABLES, create_raw_schema_sql


def parquet_glob(folder: Path, table: str) -> str:
    """DuckDB's name for the parquet data of one table: a file, or every file in a folder."""
    path = folder / f"{table}.parquet"
    return str(path / "**" / "*.parquet") if path.is_dir() else str(path)


def check_parquet_folder(folder: Path) -> None:
    """Every raw table has its parquet data in `folder` with every contract column; else one line."""
    if not folder.is_dir():
        raise OveragesError(f"{folder} is not a folder: land from a folder holding <table>.parquet per raw table")
    con = duckdb.connect()
    try:
        for table, columns in RAW_TABLES.items():
            if not (folder / f"{table}.parquet").exists():
                raise OveragesError(f"{folder / f'{table}.parquet'} is missing: every raw table of the "
                                    "landing contract needs its file (an empty table needs an empty file)")  # fmt: skip
            try:
                found = {row[0].lower() for row in con.execute(
                    f"describe select * from read_parquet('{parquet_glob(folder, table)}')").fetchall()}  # fmt: skip
            except duckdb.Error as error:
                first = str(error).strip().splitlines()[0]
                raise OveragesError(f"cannot read {folder / f'{table}.parquet'}: {first}") from None
            missing = [c.name for c in columns if c.name not in found]
            if missing:
                raise OveragesError(f"{folder / f'{table}.parquet'} has no column {missing[0]}: see "
                                    "docs/rules.md for each raw table's columns")  # fmt: skip
    finally:
        con.close()


def land_parquet(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, int]:
    """Replace the DuckDB warehouse's raw tables with the parquet data in `folder`, cast to the contract's
    types; returns rows landed per table."""
    check_parquet_folder(folder)
    con.execute("begin transaction")  # all tables or none: a file that cannot be cast leaves raw as it was
    try:
        for statement in create_raw_schema_sql(replace=True):
            con.execute(statement)
        counts = {}
        for table, columns in RAW_TABLES.items():
            names = ", ".join(c.name for c in columns)
            source = f"read_parquet('{parquet_glob(folder, table)}')"
            try:
                # A number landed as a float stays one (rule 9): a NaN or 1e20 is its row's fault, rejected by the
                # build as invalid_quantity, not a cast error that refuses the whole landing.
                floats = {name for name, kind, *_ in con.execute(f"describe select * from {source}").fetchall()
                          if kind in ("DOUBLE", "FLOAT", "REAL")}  # fmt: skip
            except duckdb.Error:
                floats = set()
            for column in columns:
                if column.name in floats and column.family == NUMBER:
                    con.execute(f"alter table {RAW_SCHEMA}.{table} alter {column.name} type double")
            casts = ", ".join(c.name if c.name in floats and c.family == NUMBER else f"cast({c.name} as {c.sql_type})"
                              for c in columns)  # fmt: skip
            try:
                con.execute(f"insert into {RAW_SCHEMA}.{table} ({names}) "
                            f"select {casts} from {source}")  # fmt: skip
            except duckdb.Error as error:
                first = str(error).strip().splitlines()[0]
                raise OveragesError(f"cannot land {folder / f'{table}.parquet'}: {first}") from None
            counts[table] = con.execute(f"select count(*) from {RAW_SCHEMA}.{table}").fetchall()[0][0]
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    return counts
