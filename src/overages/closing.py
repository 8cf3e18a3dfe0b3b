"""Closing a billing month: its invoices are issued as they stand and stay so; re-opening is explicit.

Both write two tables that dbt reads but never drops (models/staging/billing_state): audit.month_close_events
(every close and re-open, with who, when, which build and why) and audit.invoices_issued (every line of
every invoice issued). Then they run the normal build, so that the marts show the month as final (or draft
again) and carry later changes to a closed month as adjustments on the next open month. The same on Spark:
only where the statements run differs (_DuckDBState, _SparkState).
"""

from __future__ import annotations

import contextlib
import getpass
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from overages import runs
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
    build: Any | None = None  # overages.build.BuildResult, or SparkBuildResult on Spark


@dataclass
class LastBuild:
    build_id: str
    outcome: str
    validated: bool
    through_month: str | None


def _literal(value: object, backslash_escapes: bool = False) -> str:
    """A SQL literal. In Spark's string literals a backslash escapes the next character (and two quotes in a row
    are two literals, joined): there both are escaped with a backslash, so that a reason typed by a user
    (`it's C:\\temp\\`) is stored as typed on both engines."""
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return f"timestamp '{value:%Y-%m-%d %H:%M:%S.%f}'"
    if isinstance(value, date):
        return f"date '{value.isoformat()}'"
    if backslash_escapes:
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + str(value).replace("'", "''") + "'"


class _State(Protocol):
    """Where the billing state lives and is written: the warehouse's build file, or the Spark warehouse."""

    build_command: str  # what builds it, as a user types it

    def quote(self, value: object) -> str: ...

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...

    def run(self, sql: str) -> None: ...

    def has_table(self, schema: str, table: str) -> bool: ...

    def last_build(self) -> LastBuild | None: ...

    def atomically(self) -> contextlib.AbstractContextManager[None]: ...


class _DuckDBState:
    build_command = "overages build"

    def __init__(self, con: Any) -> None:
        self.con = con

    def quote(self, value: object) -> str:
        return _literal(value)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def run(self, sql: str) -> None:
        self.con.execute(sql)

    def has_table(self, schema: str, table: str) -> bool:
        return bool(self.con.execute("select count(*) from information_schema.tables where table_schema = ? "
                                     "and table_name = ?", [schema, table]).fetchall()[0][0])  # fmt: skip

    def last_build(self) -> LastBuild | None:
        if not self.has_table("audit", "build_runs"):
            return None
        row = self.con.execute(
            "select build_id, outcome, validated, through_month from audit.build_runs "
            "where outcome <> 'rolled_back' order by started_at desc limit 1"
        ).fetchall()
        return LastBuild(row[0][0], row[0][1], bool(row[0][2]), row[0][3]) if row else None

    @contextlib.contextmanager
    def atomically(self) -> Iterator[None]:
        self.con.execute("begin transaction")
        try:
            yield
        except BaseException:
            self.con.execute("rollback")
            raise
        self.con.execute("commit")


class _SparkState:
    build_command = "overages build --target spark"

    def __init__(self) -> None:
        from overages import spark

        self.spark_module = spark
        self.session = spark.session()

    def quote(self, value: object) -> str:
        return _literal(value, backslash_escapes=True)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.session.sql(sql).collect()]

    def run(self, sql: str) -> None:
        self.session.sql(sql)

    def has_table(self, schema: str, table: str) -> bool:
        return self.spark_module.table_exists(self.session, schema, table)

    def last_build(self) -> LastBuild | None:
        record = self.spark_module.last_build()
        if record is None:
            return None
        return LastBuild(str(record["build_id"]), str(record["outcome"]), bool(record.get("validated")),
                         record.get("through_month"))  # fmt: skip

    def atomically(self) -> contextlib.AbstractContextManager[None]:
        # Parquet tables have no transactions: the lines go first (see close_month).
        return contextlib.nullcontext()


@contextlib.contextmanager
def _state(path: Path | None, target: str) -> Iterator[_State]:
    """The billing state of the warehouse (`path`, its published file, on DuckDB; None on Spark), under its build
    lock."""
    if target == "spark":
        from overages import spark

        with runs.build_lock(spark.spark_home()):
            yield _SparkState()
        return
    assert path is not None, "a DuckDB warehouse is named by its published file"
    with runs.build_lock(path):
        con = connect(build_file(path))
        try:
            yield _DuckDBState(con)
        finally:
            con.close()


def closed_months(state: _State) -> dict[date, str]:
    """Month -> the id of the close in force (its latest event is a close); the same rule as the model
    int_billing_months_closed."""
    if not state.has_table("audit", "month_close_events"):
        return {}
    rows = state.rows("""
        select billing_month, event_id from (
            select billing_month, event_id, action,
                   row_number() over (partition by billing_month order by recorded_at desc, event_id desc) as rank_
            from audit.month_close_events
        ) as ranked where rank_ = 1 and action = 'close'
    """)  # fmt: skip
    return {_as_date(month): event for month, event in rows}


def _as_date(value: object) -> date:
    return value.date() if isinstance(value, datetime) else value  # type: ignore[return-value]


def _latest_build(state: _State) -> LastBuild:
    found = state.last_build()
    if found is None:
        raise OveragesError(f"no build is recorded in this warehouse: build it first ({state.build_command})")
    return found


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _record_event(state: _State, event_id: str, month: date, action: str, now: datetime, build_id: str,
                  reason: str | None) -> None:  # fmt: skip
    values = ", ".join(state.quote(v) for v in (event_id, month, action, now, build_id, reason, _who()))
    state.run("insert into audit.month_close_events (event_id, billing_month, action, recorded_at, build_id, "
              f"reason, recorded_by) values ({values})")  # fmt: skip


def _issued(state: _State, close_id: str) -> tuple[int, int]:
    invoices, lines = state.rows("select count(distinct invoice_number), count(*) from audit.invoices_issued "
                                 f"where close_id = {state.quote(close_id)}")[0]  # fmt: skip
    return int(invoices), int(lines)


def _rebuild(path: Path | None, target: str, through_month: str | None, progress: Progress) -> Any:
    """The build that follows a close or a re-open (forced: the close is an input the digest of raw and project
    files does not see)."""
    if target == "spark":
        from overages.build import run_spark_build

        return run_spark_build(through_month=through_month, full_refresh=False, validate=True, progress=progress)
    from overages.build import run_build

    assert path is not None
    return run_build(path, through_month=through_month, full_refresh=False, validate=True, progress=progress,
                     force=True)  # fmt: skip


def close_month(path: Path | None, month: date, today: date, progress: Progress, target: str = "duckdb") -> MonthEvent:
    """Issue every invoice of `month` as the last build left it, record the close, then rebuild."""
    this_month = today.replace(day=1)
    if month >= this_month:
        raise OveragesError(f"cannot close {month:%Y-%m}: only a month that has ended can be closed "
                            f"(today is {today.isoformat()} UTC)")  # fmt: skip
    with _state(path, target) as state:
        last = _latest_build(state)
        if last.outcome != "success":
            raise OveragesError(f"cannot close {month:%Y-%m}: the last build ({last.build_id}) ended '{last.outcome}'; "
                                f"mend it and build again ({state.build_command}) before closing")  # fmt: skip
        if not last.validated:
            raise OveragesError(f"cannot close {month:%Y-%m}: the last build ({last.build_id}) was not validated "
                                "(built with --skip-validate); build again without it before closing")  # fmt: skip
        counted = f"select count(*) from marts.fct_monthly_overages where billing_month = {state.quote(month)}"
        if not state.rows(counted)[0][0]:
            raise OveragesError(f"cannot close {month:%Y-%m}: the warehouse has no such billing month")
        if month in closed_months(state):
            raise OveragesError(f"{month:%Y-%m} is closed already (overages reopen to open it again)")
        now = runs.utc_now()
        event_id = f"close-{month:%Y-%m}-{now:%Y%m%dT%H%M%S%f}"
        columns = ", ".join(ISSUED_LINE_COLUMNS)
        # The lines first: until the close event names them, lines of a close id count for nothing (a close that
        # stops between the two statements on Spark, which has no transaction here, leaves the month open).
        with state.atomically():
            state.run(
                f"insert into audit.invoices_issued (close_id, {columns}, issued_at, build_id) "
                f"select {state.quote(event_id)}, {columns}, {state.quote(now)}, {state.quote(last.build_id)} "
                f"from marts.fct_invoice_lines where billing_month = {state.quote(month)} and status = 'draft'"
            )
            _record_event(state, event_id, month, "close", now, last.build_id, None)
        invoices, lines = _issued(state, event_id)
    event = MonthEvent(event_id, month, "close", invoices, lines)
    event.build = _rebuild(path, target, last.through_month, progress)
    return event


def reopen_month(path: Path | None, month: date, reason: str, progress: Progress, target: str = "duckdb") -> MonthEvent:
    """Record that `month` is open again (its issued invoices stop counting; they stay in the audit table),
    then rebuild. Refused while a later closed month's final invoices carry adjustments to it."""
    if not reason.strip():
        raise OveragesError("a re-open needs a reason (--reason TEXT)")
    with _state(path, target) as state:
        closed = closed_months(state)
        if month not in closed:
            raise OveragesError(f"{month:%Y-%m} is not closed: nothing to re-open")
        close_ids = ", ".join(state.quote(close_id) for close_id in closed.values())
        carrying = state.rows(
            "select distinct billing_month from audit.invoices_issued where line_type = 'adjustment' "
            f"and adjusted_billing_month = {state.quote(month)} and close_id in ({close_ids})")  # fmt: skip
        if carrying:
            later = ", ".join(sorted(f"{_as_date(m):%Y-%m}" for (m,) in carrying))
            raise OveragesError(f"cannot re-open {month:%Y-%m}: the final invoices of {later} carry adjustments "
                                f"to it; re-open {later} first")  # fmt: skip
        last = _latest_build(state)
        now = runs.utc_now()
        event_id = f"reopen-{month:%Y-%m}-{now:%Y%m%dT%H%M%S%f}"
        _record_event(state, event_id, month, "reopen", now, last.build_id, reason.strip())
        invoices, lines = _issued(state, closed[month])
    event = MonthEvent(event_id, month, "reopen", invoices, lines)
    event.build = _rebuild(path, target, last.through_month, progress)
    return event
