"""One build at a time per warehouse, and a record of every build in audit.build_runs."""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

from overages.errors import OveragesError
from overages.raw_contract import RAW_SCHEMA, RAW_TABLES

# The incremental models that validate each large raw table (their rewritten months are reported).
INCREMENTAL_TABLES = {
    "ai_token_events": "int_ai_token_events_validated",
    "cases": "int_cases_validated",
    "case_workitems": "int_case_workitems_validated",
}
INCREMENTAL_MODELS = tuple(INCREMENTAL_TABLES.values())

BUILD_RUNS_DDL = """
create table if not exists audit.build_runs (
    build_id varchar primary key,
    started_at timestamp not null,
    ended_at timestamp,
    outcome varchar not null,
    through_month varchar,
    full_refresh boolean,
    months_rebuilt varchar,
    raw_rows varchar,
    rows_landed_since_previous bigint,
    rows_rejected bigint,
    rows_rejected_since_previous bigint,
    message varchar,
    validated boolean,
    reference_changes varchar
)
"""
# Columns added after the table's first version, for warehouses built before them.
BUILD_RUNS_ADDED_COLUMNS = {"validated": "boolean", "reference_changes": "varchar"}


class WarehouseBusy(OveragesError):
    """Another build holds the warehouse."""

    exit_code = 75  # EX_TEMPFAIL: try again later


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def build_lock(warehouse: Path) -> Iterator[None]:
    """Hold the warehouse's build lock for the duration; a second build gets WarehouseBusy at once.

    The lock is an advisory lock on a file beside the warehouse: the operating system releases it when the
    holder exits, however it exits, so a killed build never leaves a stale lock behind.
    """
    lock_path = warehouse.with_name(warehouse.name + ".build.lock")
    handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WarehouseBusy(f"warehouse {warehouse} is being built ({holder}): try again when it finishes") \
                from None  # fmt: skip
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started {utc_now():%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        yield
    finally:
        handle.close()


@dataclass
class BuildRecord:
    build_id: str
    started_at: datetime
    through_month: str | None
    full_refresh: bool
    ended_at: datetime | None = None
    outcome: str = "running"
    months_rebuilt: list[str] = field(default_factory=list)
    raw_rows: dict[str, int] = field(default_factory=dict)
    rows_landed_since_previous: int | None = None
    rows_rejected: int | None = None
    rows_rejected_since_previous: int | None = None
    message: str | None = None
    previous_rows_rejected: int | None = None
    reference_changes: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("previous_rows_rejected")
        for key in ("started_at", "ended_at"):
            data[key] = data[key].isoformat(sep=" ") if data[key] else None
        return data


def raw_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {table: con.execute(f"select count(*) from {RAW_SCHEMA}.{table}").fetchall()[0][0]
            for table in RAW_TABLES}  # fmt: skip


def start(con: duckdb.DuckDBPyConnection, through_month: str | None, full_refresh: bool) -> BuildRecord:
    """Record a build as running; earlier builds still marked running died without finishing."""
    con.execute("create schema if not exists audit")
    con.execute(BUILD_RUNS_DDL)
    for column, data_type in BUILD_RUNS_ADDED_COLUMNS.items():
        con.execute(f"alter table audit.build_runs add column if not exists {column} {data_type}")
    con.execute(
        "update audit.build_runs set outcome = 'interrupted', "
        "message = 'the build stopped before it finished (killed or crashed)' where outcome = 'running'"
    )
    started = utc_now()
    record = BuildRecord(build_id=started.strftime("%Y%m%dT%H%M%S%f"), started_at=started,
                         through_month=through_month, full_refresh=full_refresh)  # fmt: skip
    record.raw_rows = raw_row_counts(con)
    previous = con.execute("select raw_rows, rows_rejected from audit.build_runs where outcome = 'success' "
                           "order by started_at desc limit 1").fetchall()  # fmt: skip
    before = json.loads(previous[0][0]) if previous and previous[0][0] else {}
    record.rows_landed_since_previous = sum(n - before.get(t, 0) for t, n in record.raw_rows.items())
    con.execute(
        "insert into audit.build_runs (build_id, started_at, outcome, through_month, full_refresh, raw_rows, "
        "rows_landed_since_previous) values (?, ?, 'running', ?, ?, ?, ?)",
        [record.build_id, record.started_at, through_month, full_refresh, json.dumps(record.raw_rows),
         record.rows_landed_since_previous],
    )  # fmt: skip
    record.previous_rows_rejected = previous[0][1] if previous else None
    return record


def previous_build_failed(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the latest recorded build did not get through dbt (failed, interrupted, or still marked running
    because it died): its rows may never have been tested, so the next build tests every row."""
    found = con.execute("select count(*) from information_schema.tables where table_schema = 'audit' "
                        "and table_name = 'build_runs'").fetchall()[0][0]  # fmt: skip
    if not found:
        return False
    latest = con.execute("select outcome from audit.build_runs order by started_at desc limit 1").fetchall()
    return bool(latest) and latest[0][0] not in ("success", "validation_failed")


def incremental_drift(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Raw tables whose rows an incremental build would miss: every raw row landed up to the latest
    _loaded_at a build has seen (or with none) must already be kept by the warehouse, one for one. Rows
    landed late with an older or equal _loaded_at, or rows removed or replaced, break that; a full refresh
    mends it.
    """
    drifted = []
    for table, model in INCREMENTAL_TABLES.items():
        found = con.execute("select count(*) from information_schema.tables where table_schema = 'intermediate' "
                            "and table_name = ?", [model]).fetchall()[0][0]  # fmt: skip
        if not found:
            continue
        watermark = con.execute(watermark_sql(model)).fetchall()[0][0]
        mismatch = con.execute(drift_sql(table, model, watermark)).fetchall()[0][0]
        if mismatch:
            drifted.append(f"{RAW_SCHEMA}.{table}")
    return drifted


def incremental_model_columns(models_dir: Path) -> dict[str, list[str]]:
    """The columns of every incremental model, as its .yml documents them (lower case, in order).

    test_docs holds every built column documented, and a build whose table lacks a documented column goes
    in full (reshaped_models), so a difference means the table was built by another version of the model.
    """
    incremental = re.compile(r"materialized\s*=\s*['\"]incremental['\"]")
    columns = {}
    for sql in sorted(models_dir.rglob("*.sql")):
        if not incremental.search(sql.read_text(encoding="utf-8")):
            continue
        yml = sql.with_suffix(".yml")
        try:
            doc = yaml.safe_load(yml.read_text(encoding="utf-8")) or {}
            (model,) = [m for m in doc.get("models") or [] if m.get("name") == sql.stem]
            columns[sql.stem] = [c["name"].lower() for c in model["columns"]]
        except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as error:
            raise OveragesError(f"{yml}: cannot read the columns of incremental model {sql.stem} "
                                f"({type(error).__name__})") from error  # fmt: skip
    return columns


def reshaped_models(expected: dict[str, list[str]], built: dict[str, list[str]]) -> list[str]:
    """The incremental models whose built table (model -> its columns; absent: not built) has other columns
    than this version of the model writes: an incremental build would stop on them (on_schema_change='fail')."""
    return [
        model
        for model, columns in expected.items()
        if model in built and sorted(c.lower() for c in built[model]) != sorted(columns)
    ]


def built_columns(con: duckdb.DuckDBPyConnection, models: list[str]) -> dict[str, list[str]]:
    """The columns of the models' tables in schema intermediate, for those that exist."""
    rows = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'intermediate' and table_name in (select unnest(?))",
        [models],
    ).fetchall()
    built: dict[str, list[str]] = {}
    for table, column in rows:
        built.setdefault(table, []).append(column)
    return built


def watermark_sql(model: str) -> str:
    """One row, one value: the model's latest _loaded_at as text (null when no row has one)."""
    return f"select cast(max(_loaded_at) as string) from intermediate.{model}"


def drift_sql(table: str, model: str, watermark: str | None) -> str:
    """One row, one boolean: whether `table` holds rows up to the model's watermark (watermark_sql's value)
    that the model does not (portable SQL: the Spark build runs it too).

    Every row the model keeps has an _loaded_at up to the watermark (or none), so its side is its count;
    raw's side is its count less the rows landed since, which only the newest blocks of raw hold: with the
    watermark as a literal, both engines skip the others (DuckDB by its zone maps).
    """
    landed_since = (
        f"(select count(*) from {RAW_SCHEMA}.{table} where _loaded_at > cast('{watermark}' as timestamp))"
        if watermark is not None
        else "0"
    )
    return f"""
        select (select count(*) from {RAW_SCHEMA}.{table}) - {landed_since}
            <> (select count(*) from intermediate.{model})
    """


def months_rebuilt(con: duckdb.DuckDBPyConnection, since: datetime) -> list[str]:
    """The months the incremental models wrote during this build."""
    selects = " union ".join(
        f"select month_key from intermediate.{model} where _batch_at >= ?" for model in INCREMENTAL_MODELS
    )
    rows = con.execute(f"select distinct month_key from ({selects}) order by 1", [since] * len(INCREMENTAL_MODELS))
    return [m.isoformat()[:7] if m.year > 1 else "no timestamp" for (m,) in rows.fetchall()]


def finish(con: duckdb.DuckDBPyConnection, record: BuildRecord, outcome: str, message: str | None = None,
           *, validated: bool = False) -> None:  # fmt: skip
    """Complete the build's row: when it ended, how, what it rebuilt and rejected, whether the Great
    Expectations checkpoint ran on it (`overages close` wants a validated build)."""
    record.ended_at = utc_now()
    record.outcome = outcome
    record.message = message
    if outcome != "failed":
        record.months_rebuilt = months_rebuilt(con, record.started_at)
        record.rows_rejected = con.execute("select count(*) from audit.rejected_rows").fetchall()[0][0]
        previous = record.previous_rows_rejected
        record.rows_rejected_since_previous = None if previous is None else record.rows_rejected - previous
    con.execute(
        "update audit.build_runs set ended_at = ?, outcome = ?, months_rebuilt = ?, rows_rejected = ?, "
        "rows_rejected_since_previous = ?, message = ?, validated = ? where build_id = ?",
        [record.ended_at, outcome, ", ".join(record.months_rebuilt), record.rows_rejected,
         record.rows_rejected_since_previous, message, validated, record.build_id],
    )  # fmt: skip


def pricing_digest(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per billing month, a digest of what the reference data and contracts decide in fct_monthly_overages
    (unit prices, price sources, allocations, invoice codes): taken before and
    after a build, the months where it differs are the months a reference-data change re-priced."""
    found = con.execute("select count(*) from information_schema.tables where table_schema = 'marts' "
                        "and table_name = 'fct_monthly_overages'").fetchall()[0][0]  # fmt: skip
    if not found:
        return {}
    rows = con.execute(
        "select strftime(billing_month, '%Y-%m'), sum(hash(org_id, feature, unit_price, free_allocation, "
        "invoice_code, price_source)) from marts.fct_monthly_overages group by 1"
    ).fetchall()
    return {month: int(digest) for month, digest in rows}


def record_reference_changes(con: duckdb.DuckDBPyConnection, record: BuildRecord, before: dict[str, int],
                             seeds_dir: Path) -> dict[str, object]:  # fmt: skip
    """Reference data changes are events: each build stores the SHA-256 of every seed CSV; the seeds whose
    digest differs from the previous build's, and the months whose prices or allocations changed with
    them, go in the build's reference_changes column (JSON) and in the record."""
    import hashlib

    digests = {path.relative_to(seeds_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
               for path in sorted(seeds_dir.rglob("*.csv"))}  # fmt: skip
    previous = con.execute(
        "select reference_changes from audit.build_runs where reference_changes is not null "
        "and build_id <> ? order by started_at desc limit 1",
        [record.build_id],
    ).fetchall()
    earlier = json.loads(previous[0][0]).get("seeds", {}) if previous else None
    changed = [] if earlier is None else sorted(n for n, d in digests.items() if earlier.get(n) != d)
    changed += [] if earlier is None else sorted(f"{n} (removed)" for n in earlier if n not in digests)
    repriced = []
    if changed:
        after = pricing_digest(con)
        repriced = sorted(m for m in after.keys() & before.keys() if after[m] != before[m])
    changes: dict[str, object] = {"seeds_changed": changed, "months_repriced": repriced, "seeds": digests}
    con.execute("update audit.build_runs set reference_changes = ? where build_id = ?",
                [json.dumps(changes), record.build_id])  # fmt: skip
    record.reference_changes = {"seeds_changed": changed, "months_repriced": repriced}
    return changes
