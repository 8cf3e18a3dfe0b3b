"""What `overages status` shows: the last builds and how fresh each raw table is."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import yaml

from overages.raw_contract import RAW_SCHEMA, RAW_TABLES
from overages.runs import utc_now
from overages.warehouse import PROJECT_DIR

SOURCES_YML = PROJECT_DIR / "models" / "staging" / "genesys" / "_genesys__sources.yml"
_PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
# A _loaded_at further ahead of now than this is in the future (SPEC A4).
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


def collect(con: duckdb.DuckDBPyConnection, limit: int) -> dict[str, Any]:
    builds = []
    if _table_exists(con, "audit", "build_runs"):
        columns = ["build_id", "started_at", "ended_at", "outcome", "through_month", "full_refresh",
                   "months_rebuilt", "rows_landed_since_previous", "rows_rejected", "rows_rejected_since_previous",
                   "message"]  # fmt: skip
        rows = con.execute(f"select {', '.join(columns)} from audit.build_runs order by started_at desc limit ?",
                           [limit]).fetchall()  # fmt: skip
        builds = [dict(zip(columns, row, strict=True)) for row in rows]
    warn_after, error_after = freshness_thresholds()
    now = utc_now()
    tables = []
    for table in RAW_TABLES:
        if not _table_exists(con, RAW_SCHEMA, table):
            tables.append({"table": f"{RAW_SCHEMA}.{table}", "rows": None, "latest_loaded_at": None,
                           "age_hours": None, "freshness": "missing"})  # fmt: skip
            continue
        rows, latest = con.execute(f"select count(*), max(_loaded_at) from {RAW_SCHEMA}.{table}").fetchall()[0]
        age = now - latest if latest else None
        state = (
            "no rows" if age is None
            # SPEC A4: landed more than an hour from now is in the future, never "fresh" until then.
            else "future" if -age > FUTURE_AFTER
            else "error" if age > error_after else "warn" if age > warn_after else "ok"
        )  # fmt: skip
        tables.append({"table": f"{RAW_SCHEMA}.{table}", "rows": rows, "latest_loaded_at": latest,
                       "age_hours": round(age.total_seconds() / 3600, 1) if age else None,
                       "freshness": state})  # fmt: skip
    return {"builds": builds, "raw_tables": tables,
            "freshness_rule": {"warn_after_hours": warn_after.total_seconds() / 3600,
                               "error_after_hours": error_after.total_seconds() / 3600}}  # fmt: skip


def render(data: dict[str, Any], path: Path) -> str:
    lines = [f"Warehouse {path}", ""]
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
