"""The build's as-of instant and its horizon, as the CLI checks them (rule 11 of docs/rules.md)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import duckdb

from overages.errors import OveragesError

# The dbt var as_of reaches dbt through this variable (overages.dbt_invoke.build); unset, dbt takes the instant
# it started (run_started_at), which keeps dbt's partial parsing (a var that changes every build defeats it).
AS_OF_ENV = "OVERAGES_AS_OF"
_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def parse_as_of(text: str) -> datetime:
    """'YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]' (UTC; a 'T' between date and time is read as a space) -> a naive UTC
    datetime; OveragesError in one line otherwise."""
    cleaned = text.strip().replace("T", " ").removesuffix("Z")
    for pattern in _FORMATS:
        try:
            parsed = datetime.strptime(cleaned, pattern)
        except ValueError:
            continue
        if parsed.year < 1900:
            break
        return parsed
    raise OveragesError(f"--as-of '{text}' is not an instant: write it as YYYY-MM-DD HH:MM:SS (UTC)")


def resolve_as_of(text: str | None) -> datetime:
    """The build's as-of instant: the one given, else now (UTC). A given one is passed on to dbt."""
    if text:
        as_of = parse_as_of(text)
        os.environ[AS_OF_ENV] = as_of.strftime("%Y-%m-%d %H:%M:%S.%f")
        return as_of
    os.environ.pop(AS_OF_ENV, None)
    return datetime.now(UTC).replace(tzinfo=None)


def check_through_month(through_month: str | None, as_of: datetime) -> None:
    """A through_month later than the as-of month is refused (rule 11): its months have not happened."""
    if through_month and through_month > as_of.strftime("%Y-%m"):
        raise OveragesError(
            f"--through-month {through_month} is later than the as-of month {as_of:%Y-%m} "
            f"(as of {as_of:%Y-%m-%d %H:%M:%S} UTC): months that have not happened cannot be billed"
        )


def horizon_warning(con: duckdb.DuckDBPyConnection) -> str | None:
    """A warning when the build's horizon precedes every org's first billing month: the marts are then empty
    and every accepted row waits for a later build."""
    try:
        horizon, first = con.execute(
            "select (select max(horizon_month) from intermediate.int_billing_horizon), "
            "(select min(first_billing_month) from intermediate.int_orgs_subscribed)"
        ).fetchall()[0]
    except duckdb.Error:
        return None
    if horizon is None or first is None or horizon >= first:
        return None
    return (f"the horizon {horizon:%Y-%m} precedes all accepted data (the first billing month is {first:%Y-%m}): "
            "the marts are empty and every accepted row waits for a later build")  # fmt: skip
