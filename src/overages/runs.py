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
from overages.raw_contract import ALL_RAW_TABLES, RAW_SCHEMA, RAW_TABLES

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
    published_at timestamp,
    inputs_digest varchar,
    validated boolean,
    reference_changes varchar
)
"""
# Columns added after the table's first version, for warehouses built before them.
BUILD_RUNS_ADDED_COLUMNS = {"validated": "boolean", "reference_changes": "varchar"}

# Outcomes: running -> publishing (dbt and the checkpoint passed) -> success (its snapshot is published);
# failed (a model or test failed, or the build stopped on an error), validation_failed (a failure-level
# expectation failed), publish_failed (the snapshot could not be written), interrupted (the process ended
# without recording how: killed or crashed). Only success is ever published; rolled_back records an operator
# publishing a kept snapshot again (overages publish --rollback).
OUTCOMES = ("running", "publishing", "success", "failed", "validation_failed", "publish_failed", "interrupted",
            "rolled_back")  # fmt: skip


def lock_holder(warehouse: Path) -> str | None:
    """Who holds the warehouse's build lock right now (None: nobody: no build or landing is running)."""
    lock_path = warehouse.with_name(warehouse.name + ".build.lock")
    if not lock_path.exists():
        return None
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


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
    published_at: datetime | None = None
    previous_rows_rejected: int | None = None
    reference_changes: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("previous_rows_rejected")
        for key in ("started_at", "ended_at", "published_at"):
            data[key] = data[key].isoformat(sep=" ") if data[key] else None
        return data


def raw_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows in each raw table, the optional ones included where they exist."""
    present = {row[0] for row in con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [RAW_SCHEMA]
    ).fetchall()}  # fmt: skip
    return {table: con.execute(f"select count(*) from {RAW_SCHEMA}.{table}").fetchall()[0][0]
            for table in ALL_RAW_TABLES if table in RAW_TABLES or table in present}  # fmt: skip


def ensure_build_runs(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists audit")
    con.execute(BUILD_RUNS_DDL)
    con.execute("alter table audit.build_runs add column if not exists published_at timestamp")
    con.execute("alter table audit.build_runs add column if not exists inputs_digest varchar")
    for column, data_type in BUILD_RUNS_ADDED_COLUMNS.items():
        con.execute(f"alter table audit.build_runs add column if not exists {column} {data_type}")


# What a build's result depends on, besides the raw rows: the project's models, macros, seeds, tests and suites.
PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests/dbt", "gx/expectations",
                  "gx/checkpoints", "gx/validation_definitions")  # fmt: skip


def inputs_digest(con: duckdb.DuckDBPyConnection, project: Path, through_month: str | None) -> str:
    """A digest of everything a build reads: each raw table's columns, rows and latest _loaded_at, the project's
    files, the horizon's arguments (through_month, and the month it is now, since the horizon never passes it)
    and this package's version. Equal digests mean a build would compute what the last one did."""
    import hashlib

    from overages import __version__
    from overages.horizon import AS_OF_ENV

    digest = hashlib.sha256()
    as_of = os.environ.get(AS_OF_ENV, "").strip() or utc_now().strftime("%Y-%m")  # the instant given, else the month
    for part in (__version__, through_month or "", as_of):
        digest.update(f"{part}\0".encode())
    for name in PROJECT_INPUTS:
        root = project / name
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if path.is_file() and "uncommitted" not in path.parts:
                digest.update(f"{path.relative_to(project)}\0".encode())
                digest.update(path.read_bytes())
    tables = con.execute(
        "select table_name, string_agg(column_name || ' ' || data_type, ', ' order by column_index) "
        "from duckdb_columns() where database_name = current_database() and schema_name = 'raw' group by 1 order by 1"
    ).fetchall()
    for table, columns in tables:
        latest = "max(_loaded_at)" if " _loaded_at " in f" {columns.replace(', ', ' , ')} " else "null"
        rows, loaded = con.execute(f'select count(*), cast({latest} as varchar) from raw."{table}"').fetchall()[0]
        digest.update(f"{table}\0{columns}\0{rows}\0{loaded}\0".encode())
    return digest.hexdigest()


def last_published(con: duckdb.DuckDBPyConnection) -> dict[str, object] | None:
    """The latest build that published its snapshot, with the digest of its inputs."""
    rows = con.execute("select build_id, inputs_digest, started_at from audit.build_runs where outcome = 'success' "
                       "and published_at is not null order by started_at desc limit 1").fetchall()  # fmt: skip
    later = rows and con.execute("select count(*) from audit.build_runs where started_at > ? "
                                 "and outcome not in ('rolled_back')", [rows[0][2]]).fetchall()[0][0]  # fmt: skip
    if later:  # a build since did not finish or did not pass: the build file is not the published build's
        return None
    return dict(zip(("build_id", "inputs_digest", "started_at"), rows[0], strict=True)) if rows else None


def settle_unfinished(con: duckdb.DuckDBPyConnection, published: dict[str, object] | None) -> None:
    """Give every build that ended without recording how (its process is gone: the build lock is ours) the
    outcome it had: one killed while publishing whose snapshot did reach the published file succeeded."""
    ensure_build_runs(con)
    if published:
        con.execute("update audit.build_runs set outcome = 'success', published_at = ? "
                    "where build_id = ? and published_at is null",
                    [published["published_at"], published["build_id"]])  # fmt: skip
    con.execute(
        "update audit.build_runs set outcome = 'interrupted', "
        "message = 'the build stopped while publishing (killed or crashed): its snapshot was not published' "
        "where outcome = 'publishing'"
    )
    con.execute(
        "update audit.build_runs set outcome = 'interrupted', "
        "message = 'the build stopped before it finished (killed or crashed)' where outcome = 'running'"
    )


def recent(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[dict[str, object]]:
    """The latest builds as audit.build_runs holds them, newest first."""
    columns = ["build_id", "started_at", "ended_at", "outcome", "through_month", "full_refresh", "months_rebuilt",
               "rows_landed_since_previous", "rows_rejected", "rows_rejected_since_previous", "message",
               "published_at"]  # fmt: skip
    rows = con.execute(f"select {', '.join(columns)} from audit.build_runs order by started_at desc limit ?",
                       [limit]).fetchall()  # fmt: skip
    return [dict(zip(columns, row, strict=True)) for row in rows]


def start(
    con: duckdb.DuckDBPyConnection,
    through_month: str | None,
    full_refresh: bool,
    replaced: set[str] | None = None,
    digest: str | None = None,
    new_rows: dict[str, int] | None = None,
) -> BuildRecord:
    """Record a build as running (settle_unfinished has settled the earlier ones).

    Rows landed since the previous published build: `new_rows` where they were counted (raw tables taken over
    from the published file: the rows not in the build file's copy); a table replaced since (`replaced`, or
    any table with fewer rows than before) counts every row it holds, since each was landed anew; a table
    appended to counts what it gained. Never negative.
    """
    ensure_build_runs(con)
    started = utc_now()
    record = BuildRecord(build_id=started.strftime("%Y%m%dT%H%M%S%f"), started_at=started,
                         through_month=through_month, full_refresh=full_refresh)  # fmt: skip
    record.raw_rows = raw_row_counts(con)
    previous = con.execute("select raw_rows, rows_rejected, started_at from audit.build_runs "
                           "where outcome = 'success' order by started_at desc limit 1").fetchall()  # fmt: skip
    before = json.loads(previous[0][0]) if previous and previous[0][0] else {}
    replaced = set(replaced or ()) | landed_since(con, previous[0][2] if previous else None)
    counted = new_rows or {}
    record.rows_landed_since_previous = sum(
        counted[table] if table in counted
        else n if table in replaced or n < before.get(table, 0) else n - before.get(table, 0)
        for table, n in record.raw_rows.items()
    )  # fmt: skip
    con.execute(
        "insert into audit.build_runs (build_id, started_at, outcome, through_month, full_refresh, raw_rows, "
        "rows_landed_since_previous, inputs_digest) values (?, ?, 'running', ?, ?, ?, ?, ?)",
        [record.build_id, record.started_at, through_month, full_refresh, json.dumps(record.raw_rows),
         record.rows_landed_since_previous, digest],
    )  # fmt: skip
    record.previous_rows_rejected = previous[0][1] if previous else None
    return record


def record_refused(con: duckdb.DuckDBPyConnection, through_month: str | None, full_refresh: bool,
                   message: str) -> None:  # fmt: skip
    """Record a build refused before it ran anything (its raw tables break the landing contract): a failed build
    like any other, so that the record of builds, `overages status` and `overages close` see it."""
    ensure_build_runs(con)
    now = utc_now()
    con.execute(
        "insert into audit.build_runs (build_id, started_at, ended_at, outcome, through_month, full_refresh, "
        "message) values (?, ?, ?, 'failed', ?, ?, ?)",
        [now.strftime("%Y%m%dT%H%M%S%f"), now, now, through_month, full_refresh, message],
    )


def landed_since(con: duckdb.DuckDBPyConnection, since: datetime | None) -> set[str]:
    """The raw tables that the project's own landings replaced after `since` (None: ever)."""
    found = con.execute("select count(*) from duckdb_tables() where database_name = current_database() "
                        "and schema_name = 'build_meta' and table_name = 'raw_tables'").fetchall()[0][0]  # fmt: skip
    if not found:
        return set()
    con.execute("alter table build_meta.raw_tables add column if not exists replaced_at timestamp")
    rows = con.execute("select table_name from build_meta.raw_tables where replaced_at is not null "
                       "and (? is null or replaced_at > ?)", [since, since]).fetchall()  # fmt: skip
    return {name for (name,) in rows}


def changed_months(con: duckdb.DuckDBPyConnection, published: Path) -> list[str]:
    """The billing months whose rows of marts.fct_monthly_overages differ (added, removed or changed) from the
    published snapshot's: what this build changes for its readers. Every month when nothing is published."""
    every = "select distinct cast(billing_month as varchar) from marts.fct_monthly_overages order by 1"
    if not published.exists():
        return [m[:7] for (m,) in con.execute(every).fetchall()]
    path = str(published).replace("'", "''")
    try:
        con.execute(f"attach '{path}' as previous_snapshot (read_only)")
    except duckdb.Error:
        return [m[:7] for (m,) in con.execute(every).fetchall()]
    try:
        columns = [
            [
                c
                for (c,) in con.execute(
                    "select column_name from duckdb_columns() where database_name = ? and "
                    "schema_name = 'marts' and table_name = 'fct_monthly_overages' "
                    "order by column_index",
                    [database],
                ).fetchall()
            ]  # fmt: skip
            for database in (con.execute("select current_database()").fetchall()[0][0], "previous_snapshot")
        ]
        if not columns[1]:
            return [m[:7] for (m,) in con.execute(every).fetchall()]
        shared = ", ".join(f'"{c}"' for c in columns[0] if c in columns[1])
        now = f"select {shared} from marts.fct_monthly_overages"
        then = f"select {shared} from previous_snapshot.marts.fct_monthly_overages"
        rows = con.execute(
            f"select distinct cast(billing_month as varchar) from (({now} except all {then}) union all "
            f"({then} except all {now})) order by 1"
        ).fetchall()
        return [m[:7] for (m,) in rows]
    finally:
        con.execute("detach previous_snapshot")


def previous_build_failed(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the latest recorded build did not get through dbt (failed, interrupted, or still marked running
    because it died): its rows may never have been tested, so the next build tests every row."""
    found = con.execute("select count(*) from information_schema.tables where table_schema = 'audit' "
                        "and table_name = 'build_runs'").fetchall()[0][0]  # fmt: skip
    if not found:
        return False
    latest = con.execute("select outcome from audit.build_runs order by started_at desc limit 1").fetchall()
    return bool(latest) and latest[0][0] not in ("success", "validation_failed", "publish_failed", "rolled_back")


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
    """One row, one value: the model's watermark as text (null when no row has one): its latest _loaded_at
    among rows landed no later than the build that wrote them started (macros/incremental.sql,
    latest_loaded_at). A row landed with a future _loaded_at (docs/rules.md, rule 13) stays above it until a build
    starts after that time, and is read again from raw by every build until then."""
    return f"select cast(max(_loaded_at) as string) from intermediate.{model} where _loaded_at <= _batch_at"


def drift_sql(table: str, model: str, watermark: str | None) -> str:
    """One row, one boolean: whether `table` holds rows up to the model's watermark (watermark_sql's value)
    that the model does not (portable SQL: the Spark build runs it too).

    Both sides count the rows up to the watermark (or without _loaded_at): each side's count less its rows
    landed since, which only the newest blocks hold: with the watermark as a literal, both engines skip the
    others (DuckDB by its zone maps). The model's rows above the watermark are those landed with a future
    _loaded_at, which every build reads again; without a watermark, only rows without _loaded_at count.
    """

    def settled(relation: str) -> str:
        if watermark is None:
            return f"(select count(*) from {relation} where _loaded_at is null)"
        return (f"((select count(*) from {relation}) - (select count(*) from {relation} "
                f"where _loaded_at > cast('{watermark}' as timestamp)))")  # fmt: skip

    return f"select {settled(f'{RAW_SCHEMA}.{table}')} <> {settled(f'intermediate.{model}')}"


def finish(
    con: duckdb.DuckDBPyConnection,
    record: BuildRecord,
    outcome: str,
    message: str | None = None,
    months: list[str] | None = None,
    *,
    validated: bool = False,
) -> None:
    """Complete the build's row: when it ended, how, which months it changed (changed_months), what it
    rejected, whether the Great Expectations checkpoint ran on it (`overages close` wants a validated build)."""
    record.ended_at = utc_now()
    record.outcome = outcome
    record.message = message
    if outcome not in ("failed", "publish_failed"):
        record.months_rebuilt = months or []
        record.rows_rejected = con.execute("select count(*) from audit.rejected_rows").fetchall()[0][0]
        previous = record.previous_rows_rejected
        record.rows_rejected_since_previous = None if previous is None else record.rows_rejected - previous
    con.execute(
        "update audit.build_runs set ended_at = ?, outcome = ?, months_rebuilt = coalesce(?, months_rebuilt), "
        "rows_rejected = coalesce(?, rows_rejected), rows_rejected_since_previous = coalesce(?, "
        "rows_rejected_since_previous), message = ?, validated = ? where build_id = ?",
        [record.ended_at, outcome, ", ".join(record.months_rebuilt) if outcome not in ("failed", "publish_failed")
         else None, record.rows_rejected, record.rows_rejected_since_previous, message, validated,
         record.build_id],
    )  # fmt: skip


def mark_published(con: duckdb.DuckDBPyConnection, record: BuildRecord, published_at: datetime) -> None:
    record.outcome = "success"
    con.execute("update audit.build_runs set outcome = 'success', published_at = ? where build_id = ?",
                [published_at, record.build_id])  # fmt: skip


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
