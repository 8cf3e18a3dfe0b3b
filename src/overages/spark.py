"""The warehouse on Apache Spark (local mode): the session dbt-spark uses, landing raw data, reading marts.

dbt-spark's session method creates its SparkSession in this process with the profile's
server_side_parameters; this module builds the same session from the same profile first, so landing,
the landing-contract check and the export all see the metastore and tables dbt builds. The Hive
metastore (Derby, one process at a time) and the parquet files live in the Spark home folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overages.errors import OveragesError
from overages.raw_contract import DATE, NUMBER, OPTIONAL_RAW_TABLES, RAW_SCHEMA, RAW_TABLES, TEXT, TIMESTAMP
from overages.warehouse import DEFAULT_WAREHOUSE, PROJECT_DIR

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_SPARK_HOME = DEFAULT_WAREHOUSE.parent / "spark"

# Families of Spark types a raw column may arrive as (the Spark side of raw_contract._ACCEPTED_TYPES).
_ACCEPTED_SPARK_TYPES: dict[str, tuple[str, ...]] = {
    TEXT: ("string", "varchar", "char", "bigint", "int", "smallint"),
    TIMESTAMP: ("timestamp", "timestamp_ntz", "date"),
    DATE: ("date", "timestamp", "timestamp_ntz"),
    NUMBER: ("decimal", "double", "float", "bigint", "int", "smallint", "tinyint"),
}
# The types raw tables are landed with on Spark.
_SPARK_DDL_TYPES = {TEXT: "string", TIMESTAMP: "timestamp", DATE: "date", NUMBER: "decimal(18,4)"}


def spark_home() -> Path:
    """The folder holding the Spark metastore and tables: $OVERAGES_SPARK_HOME, else warehouse/spark.

    Also exported (absolute) for the dbt profile, which reads it.
    """
    home = Path(os.environ.get("OVERAGES_SPARK_HOME") or DEFAULT_SPARK_HOME).expanduser().resolve()
    os.environ["OVERAGES_SPARK_HOME"] = str(home)
    os.environ.setdefault("OVERAGES_SPARK_LOG4J", str(PROJECT_DIR / "conf" / "spark" / "log4j2.properties"))
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode: the driver talks to itself only
    return home


def profile_parameters() -> dict[str, str]:
    """The Spark configuration of the profile's `spark` target, rendered as dbt renders it."""
    import jinja2
    import yaml

    spark_home()
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.globals["env_var"] = lambda name, default=None: os.environ.get(name, default)
    rendered = environment.from_string((PROJECT_DIR / "profiles.yml").read_text()).render()
    output = yaml.safe_load(rendered)["overages"]["outputs"]["spark"]
    parameters = {str(key): str(value) for key, value in output.get("server_side_parameters", {}).items()}
    parameters["spark.sql.ansi.enabled"] = "false"  # as dbt-spark sets it
    return parameters


def session() -> SparkSession:
    """The Spark session of the `spark` target (created once per process, shared with dbt-spark)."""
    import warnings

    # pyspark warns about pandas 3 on import; nothing here hands pandas frames to Spark.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # pragma: no cover - pyspark is pinned in requirements.txt
        raise OveragesError("pyspark is not installed: run make setup") from None
    home = spark_home()
    home.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in profile_parameters().items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as error:  # noqa: BLE001 - a JVM that cannot start is one line for the user
        first = str(error).strip().splitlines()
        raise OveragesError(f"cannot start Spark: {first[0] if first else type(error).__name__} "
                            "(Java 17 must be on PATH or JAVA_HOME)") from None  # fmt: skip
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def table_exists(spark: SparkSession, schema: str, table: str) -> bool:
    return bool(spark.catalog.tableExists(f"{schema}.{table}"))


def land_parquet(folder: Path) -> dict[str, int]:
    """Replace the raw tables with the parquet files `folder`/<table>.parquet, cast to the contract's types (an
    optional raw table only where its file is there)."""
    from overages.landing import check_parquet_folder

    check_parquet_folder(folder)
    spark = session()
    spark.sql(f"create database if not exists {RAW_SCHEMA}")
    counts = {}
    present = {t: c for t, c in OPTIONAL_RAW_TABLES.items() if (folder / f"{t}.parquet").exists()}
    for table, columns in {**RAW_TABLES, **present}.items():
        frame = spark.read.parquet(str(folder / f"{table}.parquet"))
        frame = frame.select(*[
            frame[c.name].cast(c.ddl_type.lower() if c.ddl_type else _SPARK_DDL_TYPES[c.family]).alias(c.name)
            for c in columns
        ])  # fmt: skip
        spark.sql(f"drop table if exists {RAW_SCHEMA}.{table}")
        frame.write.format("parquet").mode("overwrite").saveAsTable(f"{RAW_SCHEMA}.{table}")
        counts[table] = spark.table(f"{RAW_SCHEMA}.{table}").count()
    return counts


def land_from_duckdb_connection(con: Any, staging: Path) -> dict[str, int]:
    """Copy the raw tables of an open DuckDB database to Spark, through parquet files in `staging`."""
    import shutil

    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    present = {row[0] for row in con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [RAW_SCHEMA]
    ).fetchall()}  # fmt: skip
    for table in [*RAW_TABLES, *(t for t in OPTIONAL_RAW_TABLES if t in present)]:
        con.execute(f"copy {RAW_SCHEMA}.{table} to '{staging / f'{table}.parquet'}' (format parquet)")
    return land_parquet(staging)


def create_missing_optional_tables() -> list[str]:
    """On Spark, what overages.warehouse.create_missing_optional_tables does on DuckDB: each optional raw table
    never landed is created empty with the contract's columns; returns their names."""
    spark = session()
    spark.sql(f"create database if not exists {RAW_SCHEMA}")
    missing = [table for table in OPTIONAL_RAW_TABLES if not table_exists(spark, RAW_SCHEMA, table)]
    for table in missing:
        columns = ", ".join(f"{c.name} {c.ddl_type.lower() if c.ddl_type else _SPARK_DDL_TYPES[c.family]}"
                            for c in OPTIONAL_RAW_TABLES[table])  # fmt: skip
        spark.sql(f"create table {RAW_SCHEMA}.{table} ({columns}) using parquet")
    return missing


def check_raw_contract() -> dict[str, int]:
    """The landing contract (docs/rules.md) on Spark: every raw table and column, with a usable type.

    Returns the row count of each raw table; raises OveragesError naming the first problem.
    """
    spark = session()
    problems = []
    for table, columns in RAW_TABLES.items():
        if not table_exists(spark, RAW_SCHEMA, table):
            problems.append(f"table {RAW_SCHEMA}.{table} is missing")
            continue
        schema = spark.table(f"{RAW_SCHEMA}.{table}").schema
        landed = {field.name.lower(): field.dataType.simpleString() for field in schema}
        for column in columns:
            data_type = landed.get(column.name)
            if data_type is None:
                problems.append(f"column {RAW_SCHEMA}.{table}.{column.name} is missing")
            elif data_type.split("(")[0] not in _ACCEPTED_SPARK_TYPES[column.family]:
                problems.append(f"column {RAW_SCHEMA}.{table}.{column.name} is {data_type}, "
                                f"the contract wants a {column.family}")  # fmt: skip
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise OveragesError(f"raw data on Spark does not match the landing contract: {problems[0]}{more}; "
                            "see docs/rules.md and docs/spark.md")  # fmt: skip
    return {table: spark.table(f"{RAW_SCHEMA}.{table}").count() for table in RAW_TABLES}


def export_parquet(tables: list[str], folder: Path) -> dict[str, Path]:
    """Write Spark tables ('schema.table') to `folder`/<schema>.<table>.parquet folders; returns the paths."""
    spark = session()
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in tables:
        target = folder / f"{name}.parquet"
        spark.table(name).coalesce(1).write.mode("overwrite").parquet(str(target))
        written[name] = target
    return written


def incremental_drift() -> list[str]:
    """The raw tables an incremental build on Spark would miss rows of (see runs.incremental_drift)."""
    from overages.runs import INCREMENTAL_TABLES, drift_sql, watermark_sql

    spark = session()
    drifted = []
    for table, model in INCREMENTAL_TABLES.items():
        if not table_exists(spark, "intermediate", model):
            continue
        watermark = spark.sql(watermark_sql(model)).collect()[0][0]
        if spark.sql(drift_sql(table, model, watermark)).collect()[0][0]:
            drifted.append(f"{RAW_SCHEMA}.{table}")
    return drifted


def built_columns(models: list[str]) -> dict[str, list[str]]:
    """The columns of the models' tables in database intermediate on Spark, for those that exist."""
    spark = session()
    return {model: spark.table(f"intermediate.{model}").columns for model in models
            if table_exists(spark, "intermediate", model)}  # fmt: skip


# What a Spark build's validation, summary and export read: the marts, the audit tables and the reference
# seeds (never the raw or intermediate tables).
MIRRORED = (
    "marts.fct_monthly_overages",
    "marts.fct_invoice_lines",
    "marts.fct_invoices",
    "marts.dim_orgs",
    "marts.dim_org_months",
    "marts.fct_month_to_date_projections",
    "marts.focus_charges",
    "marts.fct_billing_reconciliation",
    "audit.rejected_rows",
    "audit.raw_reconciliation",
    "audit.usage_reconciliation",
    "audit.closed_billing_months",
    "audit.invoice_reconciliation",
    "reference.ref_features",
    "reference.ref_license_tiers",
    "reference.ref_license_types",
    "reference.ref_free_allocations",
    "reference.ref_list_prices",
    "reference.ref_currencies",
)


# The last Spark build's outcome (Spark builds have no audit.build_runs): what `overages close` checks.
BUILD_RECORD = "last_build.json"


def record_build(build_id: str, outcome: str, *, through_month: str | None, validated: bool = False) -> None:
    """Write the outcome of the Spark build `build_id` (running, failed, validation_failed, success)."""
    import json

    path = spark_home() / BUILD_RECORD
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        staging.write_text(json.dumps({"build_id": build_id, "outcome": outcome, "validated": validated,
                                       "through_month": through_month}))  # fmt: skip
        os.replace(staging, path)
    except OSError as error:
        staging.unlink(missing_ok=True)
        raise OveragesError(f"cannot record the Spark build in {path}: {error.strerror or error}") from None


def last_build() -> dict[str, Any] | None:
    """The record of the last Spark build (None when none ran since this version)."""
    import json

    path = spark_home() / BUILD_RECORD
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def published_path() -> Path:
    """The snapshot that readers of the Spark warehouse open (DuckDB, read-only), published after each build that
    passed its checks, as on the DuckDB target."""
    return spark_home() / "overages.duckdb"


def mirror(folder: Path) -> Any:
    """The marts, audit and reference tables of the Spark warehouse, copied through parquet files in `folder`
    into an in-memory DuckDB under the same names, so that the Great Expectations checkpoint, the build
    summary and the export read exactly what Spark wrote. Returns the DuckDB connection.
    """
    import shutil

    import duckdb

    spark = session()
    missing = [name for name in ("marts.fct_monthly_overages", "audit.rejected_rows")
               if not table_exists(spark, *name.split("."))]  # fmt: skip
    if missing:
        raise OveragesError(f"the Spark warehouse has no {missing[0]}: build it first (overages build --target spark)")
    shutil.rmtree(folder, ignore_errors=True)
    written = export_parquet([name for name in MIRRORED if table_exists(spark, *name.split("."))], folder)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for name, path in written.items():
        schema = name.split(".")[0]
        con.execute(f"create schema if not exists {schema}")
        files = f"read_parquet('{path}/*.parquet')"
        # Spark's timestamps are instants in parquet; the warehouse's are UTC wall-clock times, as on DuckDB.
        instants = [row[0] for row in con.execute(f"describe select * from {files}").fetchall()
                    if row[1] == "TIMESTAMP WITH TIME ZONE"]  # fmt: skip
        replaced = f" replace ({', '.join(f'cast({c} as timestamp) as {c}' for c in instants)})" if instants else ""
        con.execute(f"create table {name} as select *{replaced} from {files}")
    con.execute("create table main.raw_row_counts (source_table varchar, rows_landed bigint)")
    for table in RAW_TABLES:
        con.execute(
            "insert into main.raw_row_counts values (?, ?)", [table, spark.table(f"{RAW_SCHEMA}.{table}").count()]
        )
    return con
