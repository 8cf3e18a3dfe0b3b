"""Closing a billing month: its invoices are issued as they stand and stay so; re-opening is explicit.

Both write two tables that dbt reads but never drops (models/staging/billing_state): audit.month_close_events
(every close and re-open, with who, when, which build and why) and audit.invoices_issued (every line of
every invoice issued). Then they run the normal build, so that the marts show the month as final (or draft
again) and carry later changes to a closed month as adjustments on the next open month.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from overages import runs
from overages.build import BuildResult, run_build
from overages.errors import OveragesError
from overages.progress import Progress
from overages.warehouse import build_file, connect

# The columns of audit.invoices_issued taken from marts.fct_invoice_lines, as the invoice showed them.
ISSUED_LINE_COLUMNS = (
    "invoice_number", "org_id", "org_name", "billing_month", "line_type", "feature", "invoice_code", "description",
    "usage_quantity", "free_allocation", "quantity", "unit", "unit_price", "list_unit_price", "amount", "currency",
    "price_source", "adjusted_invoice_number", "adjusted_billing_month", "adjustment_reason",
)  # fmt: skip


@dataclass
class MonthEvent:
    event_id: str
    billing_month: date
    action: str
    invoices: int
    lines: int
    build: BuildResult | None = None


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? "
                            "and table_name = ?", [schema, table]).fetchall()[0][0])  # fmt: skip


def closed_months(con: duckdb.DuckDBPyConnection) -> dict[date, str]:
    """Month -> the id of the close in force (its latest event is a close); the same rule as the model
    int_billing_months_closed."""
    if not _table_exists(con, "audit", "month_close_events"):
        return {}
    rows = con.execute("""
        select billing_month, event_id from (
            select *, row_number() over (partition by billing_month order by recorded_at desc, event_id desc) as rank_
            from audit.month_close_events
        ) where rank_ = 1 and action = 'close'
    """).fetchall()  # fmt: skip
    return dict(rows)


def _latest_build(con: duckdb.DuckDBPyConnection) -> tuple[str, str, bool | None, str | None]:
    if not _table_exists(con, "audit", "build_runs"):
        raise OveragesError("no build is recorded in this warehouse: build it first (overages build)")
    row = con.execute("select build_id, outcome, validated, through_month from audit.build_runs "
                      "where outcome <> 'rolled_back' order by started_at desc limit 1").fetchall()  # fmt: skip
    if not row:
        raise OveragesError("no build is recorded in this warehouse: build it first (overages build)")
    return row[0]


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def close_month(path: Path, month: date, today: date, progress: Progress) -> MonthEvent:
    """Issue every invoice of `month` as the last build left it, record the close, then rebuild."""
    this_month = today.replace(day=1)
    if month >= this_month:
        raise OveragesError(f"cannot close {month:%Y-%m}: only a month that has ended can be closed "
                            f"(today is {today.isoformat()} UTC)")  # fmt: skip
    with runs.build_lock(path):
        con = connect(build_file(path))
        try:
            build_id, outcome, validated, through_month = _latest_build(con)
            if outcome != "success":
                raise OveragesError(f"cannot close {month:%Y-%m}: the last build ({build_id}) ended '{outcome}'; "
                                    "mend it and build again (overages build) before closing")  # fmt: skip
            if not validated:
                raise OveragesError(f"cannot close {month:%Y-%m}: the last build ({build_id}) was not validated "
                                    "(built with --skip-validate); build again without it before closing")  # fmt: skip
            known = con.execute("select count(*) from marts.fct_monthly_overages where billing_month = ?",
                                [month]).fetchall()[0][0]  # fmt: skip
            if not known:
                raise OveragesError(f"cannot close {month:%Y-%m}: the warehouse has no such billing month")
            if month in closed_months(con):
                raise OveragesError(f"{month:%Y-%m} is closed already (overages reopen to open it again)")
            now = runs.utc_now()
            event_id = f"close-{month:%Y-%m}-{now:%Y%m%dT%H%M%S%f}"
            columns = ", ".join(ISSUED_LINE_COLUMNS)
            con.execute("begin transaction")
            con.execute(
                f"insert into audit.invoices_issued (close_id, {columns}, issued_at, build_id) "
                f"select ?, {columns}, ?, ? from marts.fct_invoice_lines where billing_month = ? and status = 'draft'",
                [event_id, now, build_id, month],
            )  # fmt: skip
            con.execute("insert into audit.month_close_events (event_id, billing_month, action, recorded_at, build_id, "
                        "reason, recorded_by) values (?, ?, 'close', ?, ?, null, ?)",
                        [event_id, month, now, build_id, _who()])  # fmt: skip
            con.execute("commit")
            invoices, lines = con.execute("select count(distinct invoice_number), count(*) from audit.invoices_issued "
                                          "where close_id = ?", [event_id]).fetchall()[0]  # fmt: skip
        finally:
            con.close()
    event = MonthEvent(event_id, month, "close", invoices, lines)
    event.build = run_build(
        path, through_month=through_month, full_refresh=False, validate=True, progress=progress, force=True
    )  # the close is an input the digest of raw and project files does not see
    return event


def reopen_month(path: Path, month: date, reason: str, progress: Progress) -> MonthEvent:
    """Record that `month` is open again (its issued invoices stop counting; they stay in the audit table),
    then rebuild. Refused while a later closed month's final invoices carry adjustments to it."""
    if not reason.strip():
        raise OveragesError("a re-open needs a reason (--reason TEXT)")
    with runs.build_lock(path):
        con = connect(build_file(path))
        try:
            closed = closed_months(con)
            if month not in closed:
                raise OveragesError(f"{month:%Y-%m} is not closed: nothing to re-open")
            carrying = con.execute(
                "select distinct strftime(billing_month, '%Y-%m') from audit.invoices_issued "
                "where line_type = 'adjustment' and adjusted_billing_month = ? and close_id in (select unnest(?)) "
                "order by 1", [month, list(closed.values())]).fetchall()  # fmt: skip
            if carrying:
                later = ", ".join(m for (m,) in carrying)
                raise OveragesError(f"cannot re-open {month:%Y-%m}: the final invoices of {later} carry adjustments "
                                    f"to it; re-open {later} first")  # fmt: skip
            build_id, _, _, through_month = _latest_build(con)
            now = runs.utc_now()
            event_id = f"reopen-{month:%Y-%m}-{now:%Y%m%dT%H%M%S%f}"
            con.execute("insert into audit.month_close_events (event_id, billing_month, action, recorded_at, build_id, "
                        "reason, recorded_by) values (?, ?, 'reopen', ?, ?, ?, ?)",
                        [event_id, month, now, build_id, reason.strip(), _who()])  # fmt: skip
            invoices, lines = con.execute("select count(distinct invoice_number), count(*) from audit.invoices_issued "
                                          "where close_id = ?", [closed[month]]).fetchall()[0]  # fmt: skip
        finally:
            con.close()
    event = MonthEvent(event_id, month, "reopen", invoices, lines)
    event.build = run_build(
        path, through_month=through_month, full_refresh=False, validate=True, progress=progress, force=True
    )  # the close is an input the digest of raw and project files does not see
    return event
