"""What `overages status` shows: the last builds and how fresh each raw table is."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import yaml

from overages.raw_contract import RAW_SCHEMA, RAW_TABLES
from overages.runs import utc_now
from overages.warehouse import PROJECT_DIR

SOURCES_YML = PROJECT_DIR / "models" / "staging" / "genesys" / "_genesys__sources.yml"
# A raw row landed more than this after now is dated in the future (a clock or a landing is wrong).
FUTURE_SLACK = timedelta(hours=1)
_PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
# A _loaded_at further ahead of now than this is in the future (rule 13 of docs/rules.md).
FUTURE_AFTER = timedelta(hours=1)


def freshness_thresholds() -> tuple[timedelta, timedelta]:
    """warn_after and error_after of the raw source, as dbt's source freshness reads them."""
    source = yaml.safe_load(SOURCES_YML.read_text())["sources"][0]
    freshness = source["config"]["freshness"]

    def span(key: str) -> timedelta:
        return freshness[key]["count"] * _PERIODS[freshness[key]["period"]]

    return span("warn_after"), span("error_after")


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? "
                            "and table_name = ?", [schema, table]).fetchall()[0][0])  # fmt: skip


def _freshness(latest: datetime | None, now: datetime, warn_after: timedelta, error_after: timedelta) -> str:
    if latest is None:
        return "no rows"
    if latest > now + FUTURE_SLACK:
        return "future"
    age = now - latest
    return "error" if age > error_after else "warn" if age > warn_after else "ok"


def collect(path: Path, limit: int) -> dict[str, Any]:
    """The published snapshot, the builds since (from the journal the builds keep beside it, readable while a
    build runs), who is building now, and the freshness of each raw table as the snapshot's build read it."""
    from overages import publish
    from overages.runs import lock_holder
    from overages.warehouse import open_reader

    con = open_reader(path)
    try:
        snapshot = None
        if _table_exists(con, "audit", "snapshot"):
            keys = ["build_id", "built_at", "published_at", "checkpoint", "through_month", "full_refresh"]
            row = con.execute(f"select {', '.join(keys)} from audit.snapshot").fetchall()
            snapshot = dict(zip(keys, row[0], strict=True)) if row else None
        published_builds = []
        if _table_exists(con, "audit", "build_runs"):
            found = con.execute("select column_name from information_schema.columns where "
                                "table_schema = 'audit' and table_name = 'build_runs'").fetchall()  # fmt: skip
            columns = [c for (c,) in found]
            wanted = [c for c in BUILD_COLUMNS if c in columns]
            rows = con.execute(f"select {', '.join(wanted)} from audit.build_runs order by started_at desc limit ?",
                               [limit]).fetchall()  # fmt: skip
            published_builds = [dict(zip(wanted, r, strict=True)) for r in rows]
        if _table_exists(con, "audit", "snapshot_raw_tables"):
            found = con.execute("select table_name, rows_landed, latest_loaded_at from audit.snapshot_raw_tables")
            raw = {t: (n, latest) for t, n, latest in found.fetchall()}
        else:  # a warehouse of the single-file layout: its raw tables are in the file
            raw = {}
            for table in RAW_TABLES:
                if _table_exists(con, RAW_SCHEMA, table):
                    raw[table] = tuple(con.execute(f"select count(*), max(_loaded_at) from {RAW_SCHEMA}.{table}")
                                       .fetchall()[0])  # fmt: skip
    finally:
        con.close()
    journal = publish.read_journal(path)
    builder = lock_holder(path)
    builds = [_parse_build(b) for b in journal][:limit] if journal else published_builds
    for build in builds:
        if build.get("outcome") in ("running", "publishing") and builder is None:
            build["outcome"] = "interrupted"
            build["message"] = "its process is gone: the next build records it as interrupted"
    published_id = snapshot["build_id"] if snapshot else None
    unpublished = []
    for build in builds:
        if build.get("build_id") == published_id:
            break
        if build.get("outcome") in ("failed", "validation_failed", "publish_failed", "interrupted"):
            unpublished.append(build)
    warn_after, error_after = freshness_thresholds()
    now = utc_now()
    tables = []
    for table in RAW_TABLES:
        if table not in raw:
            tables.append({"table": f"{RAW_SCHEMA}.{table}", "rows": None, "latest_loaded_at": None,
                           "age_hours": None, "freshness": "missing"})  # fmt: skip
            continue
        rows, latest = raw[table]
        age = now - latest if latest else None
        tables.append({"table": f"{RAW_SCHEMA}.{table}", "rows": rows, "latest_loaded_at": latest,
                       "age_hours": round(age.total_seconds() / 3600, 1) if age is not None else None,
                       "freshness": _freshness(latest, now, warn_after, error_after)})  # fmt: skip
    return {"published": snapshot, "building_now": builder, "failed_since_published": unpublished,
            "builds": builds, "raw_tables": tables,
            "freshness_rule": {"warn_after_hours": warn_after.total_seconds() / 3600,
                               "error_after_hours": error_after.total_seconds() / 3600}}  # fmt: skip


BUILD_COLUMNS = ["build_id", "started_at", "ended_at", "outcome", "through_month", "full_refresh", "months_rebuilt",
                 "rows_landed_since_previous", "rows_rejected", "rows_rejected_since_previous", "message",
                 "published_at"]  # fmt: skip


def _parse_build(build: dict[str, Any]) -> dict[str, Any]:
    parsed = {key: build.get(key) for key in BUILD_COLUMNS}
    for key in ("started_at", "ended_at", "published_at"):
        if isinstance(parsed[key], str):
            try:
                parsed[key] = datetime.fromisoformat(parsed[key])
            except ValueError:
                parsed[key] = None
    return parsed


def render(data: dict[str, Any], path: Path) -> str:
    lines = [f"Warehouse {path}", ""]
    snap = data.get("published")
    if snap:
        lines.append(f"Published snapshot: build {snap['build_id']}, built {snap['built_at']:%Y-%m-%d %H:%M:%S} "
                     f"UTC, published {snap['published_at']:%Y-%m-%d %H:%M:%S} UTC, "
                     f"checkpoint {snap['checkpoint']}")  # fmt: skip
    else:
        lines.append("Published snapshot: none recorded (a warehouse of the single-file layout; the next build "
                     "publishes one)")  # fmt: skip
    if data.get("building_now"):
        lines.append(f"Building now: {data['building_now']}")
    failed = data.get("failed_since_published") or []
    if failed:
        lines.append(f"Builds since that did not publish: {len(failed)} (latest: {failed[0]['outcome']}: "
                     f"{failed[0].get('message') or 'no message'})")  # fmt: skip
    lines.append("")
    if data["builds"]:
        lines.append("Last builds (audit.build_runs, newest first):")
        lines.append(
            f"  {'started (UTC)':<19} {'took':>7} {'outcome':<17} {'landed':>9} {'rejected':>9}  months rebuilt"
        )
        for build in data["builds"]:
            took = ""
            if build["ended_at"]:
                took = f"{(build['ended_at'] - build['started_at']).total_seconds():.1f} s"
            landed = "" if build["rows_landed_since_previous"] is None else f"{build['rows_landed_since_previous']:,}"
            rejected = "" if build["rows_rejected"] is None else f"{build['rows_rejected']:,}"
            mode = " (full)" if build["full_refresh"] else ""
            lines.append(f"  {build['started_at']:%Y-%m-%d %H:%M:%S} {took:>7} {build['outcome'] + mode:<17} "
                         f"{landed:>9} {rejected:>9}  {build['months_rebuilt'] or ''}")  # fmt: skip
            if build["message"]:
                lines.append(f"      {build['message']}")
    else:
        lines.append("No build recorded yet (overages build).")
    rule = data["freshness_rule"]
    lines += ["", f"Raw tables (fresh while the latest row landed under {rule['warn_after_hours']:.0f} h ago; "
                  f"error past {rule['error_after_hours']:.0f} h):"]  # fmt: skip
    for table in data["raw_tables"]:
        latest = f"{table['latest_loaded_at']:%Y-%m-%d %H:%M:%S}" if table["latest_loaded_at"] else "-"
        hours = table["age_hours"]
        age = "" if hours is None else f"{hours:,.1f} h ago" if hours >= 0 else f"in {-hours:,.1f} h"
        rows = f"{table['rows']:,}" if table["rows"] is not None else "-"
        lines.append(f"  {table['table']:<24} {rows:>12} rows  latest {latest:<19} {age:>14}  {table['freshness']}")
    return "\n".join(lines)
