"""Write, audit, publish: builds write a build file; readers open a published snapshot of what passed.

Layout, for a warehouse named `warehouse/overages.duckdb` (WAREHOUSE_PATH):

    warehouse/overages.duckdb             the published snapshot: what readers (BI tools, report, export,
                                          status) open, read-only. Replaced whole by an atomic rename.
    warehouse/overages.build/overages.duckdb
                                          the build file: raw tables landed by the project's own commands,
                                          every model, the incremental state. Only builds and landings open it.
    warehouse/overages.snapshots/         the last few snapshots (<build_id>.duckdb, for rollback) and
                                          builds.json, the record of recent builds that `status` reads
                                          without waiting for a running build.

A snapshot holds the schemas readers need (marts, audit, reference), materialised as tables, plus
`audit.snapshot` (which build, when, the checkpoint's outcome) and `audit.snapshot_raw_tables` (the raw
watermark per table). Raw tables that someone wrote into the published file directly (the way a
warehouse was fed before builds and readers had files of their own) are taken over by the next build and
kept in its snapshot, so that such a landing can go on appending to them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from overages.errors import OveragesError

READER_SCHEMAS = ("marts", "audit", "reference")
META_SCHEMA = "build_meta"  # in the build file only: where each raw table came from
DEFAULT_KEEP = 3


class PublishFailed(OveragesError):
    """The build passed its checks but its snapshot could not be written; the previous one stays."""

    exit_code = 1


def build_path(published: Path) -> Path:
    """The build file of a warehouse: a folder beside it, holding a file of the same name (so that dbt names the
    database the same in both)."""
    return published.parent / f"{published.stem}.build" / published.name


def snapshots_dir(published: Path) -> Path:
    return published.parent / f"{published.stem}.snapshots"


def journal_path(published: Path) -> Path:
    return snapshots_dir(published) / "builds.json"


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def pause_point(name: str) -> None:
    """A named point of a build where the test suite can stop it (OVERAGES_TEST_PAUSE_AT=name): the build
    writes the name into OVERAGES_TEST_PAUSE_FILE and waits, so a test can kill it exactly there."""
    if os.environ.get("OVERAGES_TEST_PAUSE_AT") != name:
        return
    marker = os.environ.get("OVERAGES_TEST_PAUSE_FILE")
    if marker:
        Path(marker).write_text(name)
    time.sleep(float(os.environ.get("OVERAGES_TEST_PAUSE_SECONDS", "120")))


# ---------------------------------------------------------------------------------------------------------------
# Raw tables written into the published file directly


def _meta_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {META_SCHEMA}")
    con.execute(
        f"create table if not exists {META_SCHEMA}.raw_tables (table_name varchar primary key, origin varchar "
        "not null, fingerprint varchar, changed_at timestamp)"
    )
    con.execute(f"alter table {META_SCHEMA}.raw_tables add column if not exists replaced_at timestamp")


def mark_landed(con: duckdb.DuckDBPyConnection, tables: list[str], when: datetime, *, replaced: bool = True) -> None:
    """Record that the project's own landing wrote these raw tables into the build file (replacing them, or
    appending to them): a later build no longer takes the published file's copy of them (if any) over, and
    leaves them out of its snapshot."""
    _meta_table(con)
    for table in tables:
        previous = con.execute(f"select replaced_at from {META_SCHEMA}.raw_tables where table_name = ?",
                               [table]).fetchall()  # fmt: skip
        replaced_at = when if replaced else (previous[0][0] if previous else None)
        con.execute(f"insert or replace into {META_SCHEMA}.raw_tables (table_name, origin, fingerprint, changed_at, "
                    "replaced_at) values (?, 'landed', null, ?, ?)", [table, when, replaced_at])  # fmt: skip


def _fingerprint(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    rows, digest = con.execute(f"select count(*), coalesce(sum(hash(t)), 0) from {relation} as t").fetchall()[0]
    return f"{rows}:{digest}"


def take_over_published_raw(con: duckdb.DuckDBPyConnection, published: Path, when: datetime) -> dict[str, int]:
    """Copy into the build file every raw table that was written into the published file since it was published
    (or that a warehouse of the single-file layout holds); returns their names, each with the rows it holds that
    the build file's copy did not (the rows landed since).

    A raw table that the snapshot itself carried, unchanged since, is left alone: its fingerprint (row count and
    a digest of every row) is recorded in the snapshot's audit.snapshot_raw_tables.
    """
    if not published.exists():
        return []
    _meta_table(con)
    try:
        con.execute(f"attach '{_sql_path(published)}' as published_file (read_only)")
    except duckdb.Error as error:
        first = (str(error).strip().splitlines() or [""])[0]
        raise OveragesError(f"cannot open warehouse {published} to take over raw tables written into it: {first}") \
            from None  # fmt: skip
    try:
        names = [
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where database_name = 'published_file' "
                "and schema_name = 'raw' order by table_name"
            ).fetchall()
        ]
        if not names:
            return {}
        recorded: dict[str, str | None] = {}
        has_record = con.execute(
            "select count(*) from duckdb_tables() where database_name = 'published_file' and schema_name = 'audit' "
            "and table_name = 'snapshot_raw_tables'"
        ).fetchall()[0][0]
        if has_record:
            recorded = dict(
                con.execute("select table_name, fingerprint from published_file.audit.snapshot_raw_tables").fetchall()
            )
        landed = dict(
            con.execute(
                f"select table_name, changed_at from {META_SCHEMA}.raw_tables where origin = 'landed'"
            ).fetchall()
        )
        written = datetime.fromtimestamp(published.stat().st_mtime, UTC).replace(tzinfo=None)
        taken: dict[str, int] = {}
        con.execute("create schema if not exists raw")
        existing = {
            name
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where database_name = current_database() "
                "and schema_name = 'raw'"
            ).fetchall()
        }
        for name in names:
            if name in landed and landed[name] >= written:
                continue  # the project's own landing replaced this table after the published file was last written
            fingerprint = _fingerprint(con, f'published_file.raw."{name}"')
            if recorded.get(name) == fingerprint:
                continue  # what the snapshot carried, untouched since
            source = f'published_file.raw."{name}"'
            new_rows = con.execute(
                f'select count(*) from (select * from {source} except all select * from raw."{name}")'
                if name in existing
                else f"select count(*) from {source}"
            ).fetchall()[0][0]
            con.execute("begin transaction")
            try:
                con.execute(f'create or replace table raw."{name}" as select * from {source}')
                con.execute(
                    f"insert or replace into {META_SCHEMA}.raw_tables (table_name, origin, fingerprint, changed_at) "
                    "values (?, 'published', ?, ?)",
                    [name, fingerprint, when],
                )
            except BaseException:
                con.execute("rollback")
                raise
            con.execute("commit")
            taken[name] = new_rows
        return taken
    finally:
        con.execute("detach published_file")


def _carried_raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    _meta_table(con)
    existing = {
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() and schema_name = 'raw'"
        ).fetchall()
    }
    chosen = con.execute(f"select table_name from {META_SCHEMA}.raw_tables where origin = 'published'").fetchall()
    return sorted(name for (name,) in chosen if name in existing)


# ---------------------------------------------------------------------------------------------------------------
# Writing and publishing a snapshot


@dataclass
class Snapshot:
    build_id: str
    path: Path
    seconds: float
    bytes: int
    tables: int


def _reader_relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    schemas = ", ".join(f"'{s}'" for s in READER_SCHEMAS)
    rows = con.execute(
        f"select schema_name, table_name from duckdb_tables() where database_name = current_database() "
        f"and schema_name in ({schemas}) "
        f"union all select schema_name, view_name from duckdb_views() where database_name = current_database() "
        f"and schema_name in ({schemas}) and not internal order by 1, 2"
    ).fetchall()
    return [(schema, name) for schema, name in rows]


def _copy_comments(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> None:
    """The descriptions dbt persisted on a relation and its columns, so a BI tool shows them on the snapshot."""
    table_comment = con.execute(
        "select comment from duckdb_tables() where database_name = current_database() and schema_name = ? "
        "and table_name = ? union all select comment from duckdb_views() where database_name = current_database() "
        "and schema_name = ? and view_name = ?",
        [schema, name, schema, name],
    ).fetchall()
    target = f'snapshot_file.{schema}."{name}"'
    if table_comment and table_comment[0][0]:
        con.execute(f"comment on table {target} is {_quote(table_comment[0][0])}")
    for column, comment in con.execute(
        "select column_name, comment from duckdb_columns() where database_name = current_database() "
        "and schema_name = ? and table_name = ? and comment is not null and comment <> ''",
        [schema, name],
    ).fetchall():
        con.execute(f'comment on column {target}."{column}" is {_quote(comment)}')


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_snapshot(
    con: duckdb.DuckDBPyConnection,
    target: Path,
    *,
    build_id: str,
    built_at: datetime,
    published_at: datetime,
    checkpoint: str,
    through_month: str | None,
    full_refresh: bool,
) -> int:
    """Write the readers' tables of the build file (`con`) into a new DuckDB file `target`; returns the number
    of relations written. The snapshot's copy of audit.build_runs shows this build as published."""
    from overages import __version__
    from overages.raw_contract import RAW_SCHEMA

    relations = _reader_relations(con)
    carried = _carried_raw_tables(con)
    con.execute(f"attach '{_sql_path(target)}' as snapshot_file")
    try:
        for schema in (*READER_SCHEMAS, *([RAW_SCHEMA] if carried else [])):
            con.execute(f"create schema if not exists snapshot_file.{schema}")
        for count, (schema, name) in enumerate(relations):
            con.execute(f'create table snapshot_file.{schema}."{name}" as select * from {schema}."{name}"')
            _copy_comments(con, schema, name)
            if count == len(relations) // 2:
                pause_point("publish:writing-snapshot")
        if ("audit", "build_runs") in relations:
            con.execute(
                "update snapshot_file.audit.build_runs set outcome = 'success', published_at = ? where build_id = ?",
                [published_at, build_id],
            )
        raw_tables = []
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'raw' order by 1"
        ).fetchall():
            columns = {c for (c,) in con.execute(
                "select column_name from duckdb_columns() where database_name = current_database() "
                "and schema_name = 'raw' and table_name = ?", [name]).fetchall()}  # fmt: skip
            latest = "max(_loaded_at)" if "_loaded_at" in columns else "null"
            rows, loaded = con.execute(f'select count(*), {latest} from raw."{name}"').fetchall()[0]
            fingerprint = None
            if name in carried:
                con.execute(f'create table snapshot_file.raw."{name}" as select * from raw."{name}"')
                fingerprint = _fingerprint(con, f'snapshot_file.raw."{name}"')
            raw_tables.append((name, rows, loaded, fingerprint))
        con.execute(
            "create table snapshot_file.audit.snapshot_raw_tables (table_name varchar, rows_landed bigint, "
            "latest_loaded_at timestamp, fingerprint varchar)"
        )
        if raw_tables:  # a Spark mirror carries no raw schema: its raw tables live in the Spark warehouse
            con.executemany("insert into snapshot_file.audit.snapshot_raw_tables values (?, ?, ?, ?)", raw_tables)
        con.execute(
            "create table snapshot_file.audit.snapshot (build_id varchar, built_at timestamp, published_at timestamp, "
            "checkpoint varchar, through_month varchar, full_refresh boolean, project_version varchar)"
        )
        con.execute(
            "insert into snapshot_file.audit.snapshot values (?, ?, ?, ?, ?, ?, ?)",
            [build_id, built_at, published_at, checkpoint, through_month, full_refresh, __version__],
        )
        con.execute(
            "comment on table snapshot_file.audit.snapshot is 'One row: the build this published snapshot holds, "
            "when it was built and published, and whether the Great Expectations checkpoint ran (data as of).'"
        )
        con.execute(
            "comment on table snapshot_file.audit.snapshot_raw_tables is 'One row per raw table: the rows and the "
            "latest _loaded_at the build of this snapshot read (the raw watermark).'"
        )
        return len(relations) + 2
    finally:
        con.execute("detach snapshot_file")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(FileNotFoundError):
        Path(str(path) + ".wal").unlink()


def _staging_path(published: Path) -> Path:
    return published.parent / f".{published.name}.publishing"


def clean_leftovers(published: Path) -> None:
    """Files a publication killed half-way left behind; none of them is ever read."""
    _remove(_staging_path(published))
    folder = snapshots_dir(published)
    if folder.is_dir():
        for partial in folder.glob(".*.partial.duckdb*"):
            _remove(partial)


def _replace_published(source: Path, published: Path) -> None:
    """Copy a finished snapshot beside the published file and move it into place in one rename."""
    staging = _staging_path(published)
    _remove(staging)
    try:
        shutil.copyfile(source, staging)
        _fsync(staging)
        pause_point("publish:before-rename")
        os.replace(staging, published)
        _fsync(published.parent)
    except BaseException:
        _remove(staging)
        raise


def publish(
    con: duckdb.DuckDBPyConnection,
    published: Path,
    *,
    build_id: str,
    built_at: datetime,
    published_at: datetime,
    checkpoint: str,
    through_month: str | None,
    full_refresh: bool,
    keep: int = DEFAULT_KEEP,
) -> Snapshot:
    """Write this build's snapshot, keep a copy for rollback and move it into place as the published file.

    Killed at any moment, or out of disk, the published file is the previous snapshot, whole: the new one is
    written under a name no reader opens, and replaces the published file in one rename.
    """
    started = time.perf_counter()
    folder = snapshots_dir(published)
    folder.mkdir(parents=True, exist_ok=True)
    clean_leftovers(published)
    partial = folder / f".{build_id}.partial.duckdb"
    kept = folder / f"{build_id}.duckdb"
    try:
        tables = write_snapshot(con, partial, build_id=build_id, built_at=built_at, published_at=published_at,
                                checkpoint=checkpoint, through_month=through_month,
                                full_refresh=full_refresh)  # fmt: skip
        _fsync(partial)
        os.replace(partial, kept)
        _replace_published(kept, published)
    except (OSError, duckdb.Error) as error:
        _remove(partial)
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise PublishFailed(f"could not publish the snapshot of build {build_id}: {first}; "
                            f"{published} still holds the previous snapshot") from None  # fmt: skip
    pause_point("publish:after-rename")
    prune(published, keep)
    return Snapshot(build_id=build_id, path=published, seconds=time.perf_counter() - started,
                    bytes=published.stat().st_size, tables=tables)  # fmt: skip


def prune(published: Path, keep: int) -> None:
    """Keep the newest `keep` snapshots (at least the one published)."""
    current = published_build_id(published)
    kept = sorted(snapshots_dir(published).glob("*.duckdb"), reverse=True)
    for stale in kept[max(keep, 1) :]:
        if stale.stem != current:
            _remove(stale)


# ---------------------------------------------------------------------------------------------------------------
# Reading what is published


@contextlib.contextmanager
def _read(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def snapshot_info(path: Path) -> dict[str, Any] | None:
    """audit.snapshot of a snapshot file (None when it has none: not built by this version)."""
    if not path.exists():
        return None
    try:
        with _read(path) as con:
            found = con.execute("select count(*) from duckdb_tables() where schema_name = 'audit' "
                                "and table_name = 'snapshot'").fetchall()[0][0]  # fmt: skip
            if not found:
                return None
            row = con.execute("select build_id, built_at, published_at, checkpoint, through_month, full_refresh "
                              "from audit.snapshot").fetchall()  # fmt: skip
    except duckdb.Error:
        return None
    if not row:
        return None
    keys = ("build_id", "built_at", "published_at", "checkpoint", "through_month", "full_refresh")
    return dict(zip(keys, row[0], strict=True))


def published_build_id(published: Path) -> str | None:
    info = snapshot_info(published)
    return info["build_id"] if info else None


def list_snapshots(published: Path) -> list[dict[str, Any]]:
    """The kept snapshots, newest first, each with its audit.snapshot and whether it is the published one."""
    current = published_build_id(published)
    found = []
    for path in sorted(snapshots_dir(published).glob("*.duckdb"), reverse=True):
        info = snapshot_info(path) or {"build_id": path.stem}
        found.append({**info, "path": str(path), "bytes": path.stat().st_size,
                      "is_published": info["build_id"] == current})  # fmt: skip
    return found


def rollback(published: Path, build_id: str) -> Path:
    """Publish a kept snapshot again (the build lock must be held)."""
    kept = snapshots_dir(published) / f"{build_id}.duckdb"
    if not kept.exists() or build_id.startswith("."):
        known = ", ".join(s["build_id"] for s in list_snapshots(published)) or "none"
        raise OveragesError(f"no kept snapshot of build {build_id!r} (kept: {known}); see overages publish --list")
    try:
        _replace_published(kept, published)
    except OSError as error:
        raise PublishFailed(f"could not publish snapshot {build_id} again: {error.strerror or error}; "
                            f"{published} is unchanged") from None  # fmt: skip
    return kept


# ---------------------------------------------------------------------------------------------------------------
# The record of builds that readers can see without opening the build file


def write_journal(published: Path, builds: list[dict[str, Any]]) -> None:
    """builds.json: the latest builds as audit.build_runs has them, replaced in one rename."""
    folder = snapshots_dir(published)
    folder.mkdir(parents=True, exist_ok=True)
    target = journal_path(published)
    staging = folder / ".builds.json.partial"
    try:
        staging.write_text(json.dumps({"builds": builds}, indent=1, default=str), encoding="utf-8")
        os.replace(staging, target)
    except OSError:
        _remove(staging)  # the journal is a convenience for status; the build's own record is in audit.build_runs


def read_journal(published: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(journal_path(published).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    builds = data.get("builds") if isinstance(data, dict) else None
    return builds if isinstance(builds, list) else []
