"""The warehouse file: where it is, and whether its raw tables honour the landing contract."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from overages.errors import OveragesError
from overages.raw_contract import ALL_RAW_TABLES, OPTIONAL_RAW_TABLES, RAW_SCHEMA, create_table_sql

# The copy of the dbt project a wheel carries (setup.py copies it in at build time).
PACKAGED_PROJECT = Path(__file__).resolve().with_name("dbt_project")


def _project_dir() -> Path:
    """The dbt project: OVERAGES_PROJECT_DIR, else the checkout this package runs from (editable install),
    else the copy packaged in the wheel."""
    if os.environ.get("OVERAGES_PROJECT_DIR"):
        return Path(os.environ["OVERAGES_PROJECT_DIR"]).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "dbt_project.yml").is_file() else PACKAGED_PROJECT


PROJECT_DIR = _project_dir()
IS_PACKAGED = PROJECT_DIR == PACKAGED_PROJECT
# A checkout keeps its warehouse in the repository; an installed package in the folder it is run from.
DEFAULT_WAREHOUSE = Path("warehouse/overages.duckdb") if IS_PACKAGED else PROJECT_DIR / "warehouse" / "overages.duckdb"


def state_dir() -> Path:
    """Where runs write (dbt's target/ and logs/, gx/ with its uncommitted results, reports/): OVERAGES_STATE_DIR,
    else the project itself when it is a checkout, else $XDG_STATE_HOME/overages (~/.local/state/overages), so
    that nothing is written into an installed package."""
    if os.environ.get("OVERAGES_STATE_DIR"):
        return Path(os.environ["OVERAGES_STATE_DIR"]).expanduser().resolve()
    if not IS_PACKAGED:
        return PROJECT_DIR
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return (base / "overages").resolve()


# DuckDB names a database after its file; a file named like one of the warehouse's schemas makes every
# reference to that schema ambiguous ("raw.cases": the database raw, or the schema raw?).
RESERVED_NAMES = ("raw", "reference", "staging", "intermediate", "marts", "audit", "main", "floor", "extract")


def resolve_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The warehouse file: the argument, else WAREHOUSE_PATH, else the project's default."""
    chosen = Path(path or os.environ.get("WAREHOUSE_PATH") or DEFAULT_WAREHOUSE).expanduser().resolve()
    if chosen.stem.lower() in RESERVED_NAMES:
        raise OveragesError(
            f"the warehouse file cannot be called {chosen.name}: DuckDB names the database after "
            f"the file and '{chosen.stem}' is also a schema; rename it (e.g. warehouse.duckdb)"
        )
    return chosen


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file; a missing file or one another process holds is a one-line error."""
    if read_only and not path.exists():
        raise OveragesError(
            f"warehouse {path} does not exist: land raw data first (overages demo) "
            "or point WAREHOUSE_PATH at your DuckDB file"
        )
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as error:
        first_line = str(error).splitlines()[0]
        raise OveragesError(f"cannot open warehouse {path}: {first_line}") from None


def open_reader(path: Path) -> duckdb.DuckDBPyConnection:
    """The published snapshot, read-only: what every command that only reads opens. A warehouse that has raw
    data in its build file but no snapshot yet gets a one-line error saying to build it."""
    from overages.publish import build_path

    if not path.exists() and build_path(path).exists():
        raise OveragesError(f"warehouse {path} has not been published yet: build it first (overages build)")
    return connect(path, read_only=True)


def _example(con: duckdb.DuckDBPyConnection, table: str, column: str, key: str) -> str:
    """A row of the column, to show what was landed (the row's id beside the value), or nothing."""
    try:
        found = con.execute(f'select cast("{key}" as varchar), cast("{column}" as varchar) from {RAW_SCHEMA}.{table} '
                            f'where "{column}" is not null limit 1').fetchall()  # fmt: skip
    except duckdb.Error:
        return ""
    if not found:
        return ""
    ident, value = (text if text is None or len(text) <= 40 else text[:37] + "..." for text in found[0])
    return f" (e.g. {key} {ident!r}: {value!r})"


def check_raw_contract(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Check that every raw table and column of the landing contract is there with a usable type, and that an
    optional raw table (raw_contract.OPTIONAL_RAW_TABLES), where there is one, has its columns too.

    Returns the row count of each raw table present. Raises OveragesError naming the first problem.
    """
    rows = con.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? order by table_name, ordinal_position",
        [RAW_SCHEMA],
    ).fetchall()
    landed: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        landed.setdefault(table, {})[column.lower()] = data_type
    problems = []
    for table, columns in ALL_RAW_TABLES.items():
        if table not in landed:
            if table not in OPTIONAL_RAW_TABLES:
                problems.append(f"table {RAW_SCHEMA}.{table} is missing")
            continue
        for column in columns:
            data_type = landed[table].get(column.name)
            if data_type is None:
                problems.append(f"column {RAW_SCHEMA}.{table}.{column.name} is missing")
            elif not column.accepts(data_type):
                problems.append(
                    f"column {RAW_SCHEMA}.{table}.{column.name} is {data_type}, the contract wants a {column.family}"
                    + _example(con, table, column.name, columns[0].name)
                )
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise OveragesError(
            f"raw data does not match the landing contract: {problems[0]}{more}; "
            "see docs/rules.md and README 'Your own data'"
        )
    return {
        table: con.execute(f"select count(*) from {RAW_SCHEMA}.{table}").fetchall()[0][0]
        for table in ALL_RAW_TABLES
        if table in landed
    }


def create_missing_optional_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create, empty and with the contract's columns, each optional raw table the warehouse lacks (a warehouse
    that never extracted from Genesys Cloud's API), so the models that read them build; returns their names."""
    present = {row[0] for row in con.execute(
        "select table_name from information_schema.tables where table_catalog = current_database() "
        "and table_schema = ?", [RAW_SCHEMA]).fetchall()}  # fmt: skip
    missing = [table for table in OPTIONAL_RAW_TABLES if table not in present]
    if missing:
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        for table in missing:
            con.execute(create_table_sql(table, replace=False))
    return missing


def build_file(path: Path) -> Path:
    """The file builds (and `overages close` / `reopen`) write for the warehouse whose published snapshot is
    `path` (overages.publish.build_path)."""
    from overages.publish import build_path

    return build_path(path)
