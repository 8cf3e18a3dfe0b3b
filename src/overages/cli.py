"""The `overages` command: land demo data, build the warehouse, and report what it holds."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import TypeVar

import click
import duckdb

from overages import __version__
from overages.errors import OveragesError, ValidationFailed
from overages.months import parse_month
from overages.warehouse import connect, resolve_path

F = TypeVar("F", bound=Callable[..., object])

# pyspark (installed for dbt-spark's session target) warns on import, through Great Expectations, that it does not
# fully support pandas 3 (the pinned pandas is 3.1): the warning would come before the one-line errors the commands
# print on stderr.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


def _warehouse_option(function: F) -> F:
    return click.option(
        "--warehouse",
        "warehouse",
        type=click.Path(dir_okay=False),
        default=None,
        help="DuckDB file of the warehouse (default: $WAREHOUSE_PATH, else warehouse/overages.duckdb).",
    )(function)


TARGETS = ("duckdb", "spark")


def _target_option(function: F) -> F:
    return click.option(
        "--target",
        type=click.Choice(TARGETS),
        default=lambda: os.environ.get("OVERAGES_TARGET", "duckdb"),
        show_default="$OVERAGES_TARGET, else duckdb",
        help="Engine: the DuckDB file, or Apache Spark in local mode (metastore and tables in $OVERAGES_SPARK_HOME, "
        "else warehouse/spark).",
    )(function)


def _resource_options(function: F) -> F:
    function = click.option(
        "--memory-limit", default=None, metavar="SIZE",
        help="DuckDB memory limit, e.g. 8GB (default: $OVERAGES_MEMORY_LIMIT, else 60% of this machine's memory); "
             "past it, DuckDB spills to a folder beside the warehouse.",
    )(function)  # fmt: skip
    return click.option(
        "--threads", type=click.IntRange(1, 256), default=None,
        help="DuckDB threads (default: $OVERAGES_THREADS, else the machine's cores).",
    )(function)  # fmt: skip


def _apply_resources(memory_limit: str | None, threads: int | None) -> None:
    """Resource settings reach the dbt profile through the environment."""
    from overages.resources import configure

    configure(memory_limit=memory_limit, threads=threads)


def _month(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_month(value).strftime("%Y-%m")
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.group()
@click.version_option(__version__, prog_name="overages")
def main() -> None:
    """Genesys Cloud usage beyond the monthly free allocations, as billable overage marts."""


@main.command()
@_warehouse_option
@click.option(
    "--orgs", type=click.IntRange(1, 1_000_000), default=300, show_default=True, help="Organisations to simulate."
)
@click.option(
    "--months",
    type=click.IntRange(1, 120),
    default=6,
    show_default=True,
    help="Billing months of usage, ending with --end-month.",
)
@click.option(
    "--end-month", callback=_month, default=None, show_default="the month before today (UTC)",
    help="Last month of usage (YYYY-MM). Without it the rows look landed by today; with it, as generated.",
)  # fmt: skip
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed: same seed, same rows.")
@_target_option
def demo(warehouse: str | None, orgs: int, months: int, end_month: str | None, seed: int, target: str) -> None:
    """Land a synthetic raw data set (with a share of every fault) in the warehouse's raw schema."""
    from overages import demo as demo_data

    started = time.perf_counter()
    # By default the demo is current: it ends last month and lands as of today's first instant (UTC), fresh for
    # `overages status` and the same rows all day for a seed. A chosen --end-month lands as generated (a past
    # scenario keeps its own landing times).
    from datetime import UTC, datetime

    landed_by = None
    if end_month is None:
        landed_by = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    data = demo_data.generate(orgs=orgs, months=months, seed=seed, end_month=end_month, landed_by=landed_by)
    if target == "spark":
        from overages import spark

        where = f"Spark ({spark.spark_home()})"
        with _spark_lock():
            con = duckdb.connect()
            try:
                demo_data.land(con, data)
                counts = spark.land_from_duckdb_connection(con, spark.spark_home() / "landing")
            finally:
                con.close()
    else:
        where, counts = _land_in_duckdb(warehouse, lambda con: demo_data.land(con, data))
    _echo_landed("demo data", where, started, counts)


def _land_in_duckdb(
    warehouse: str | None, land_rows: Callable[[duckdb.DuckDBPyConnection], dict[str, int]]
) -> tuple[str, dict[str, int]]:
    """Open (or create) the DuckDB warehouse, land into it, and say where; returns rows landed per table."""
    path = resolve_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = connect(path)
    try:
        return str(path), land_rows(con)
    finally:
        con.close()


def _echo_landed(what: object, where: str, started: float, counts: dict[str, int]) -> None:
    click.echo(f"Landed {what} in {where} ({time.perf_counter() - started:.1f} s):")
    for table, count in counts.items():
        click.echo(f"  raw.{table:<20} {count:>10,} rows")


@main.command()
@_warehouse_option
@_target_option
@click.argument("folder", type=click.Path(file_okay=False))
def land(warehouse: str | None, target: str, folder: str) -> None:
    """Replace the raw tables with parquet data from FOLDER: <table>.parquet per raw table (a file or a
    folder of files) with the columns of SPEC.md section 2, cast to the contract's types."""
    from pathlib import Path

    source = Path(folder).resolve()
    started = time.perf_counter()
    if target == "spark":
        from overages import spark

        where = f"Spark ({spark.spark_home()})"
        with _spark_lock():
            counts = spark.land_parquet(source)
    else:
        from overages.landing import land_parquet

        where, counts = _land_in_duckdb(warehouse, lambda con: land_parquet(con, source))
    _echo_landed(source, where, started, counts)


def _spark_lock():  # noqa: ANN202 - a context manager
    """The Spark warehouse's build lock: its Derby metastore admits one process at a time."""
    from overages import runs, spark

    home = spark.spark_home()
    home.mkdir(parents=True, exist_ok=True)
    return runs.build_lock(home)


@main.command()
@_warehouse_option
@click.option(
    "--through-month",
    callback=_month,
    default=None,
    help="Last billing month to report (YYYY-MM); default: the latest month with accepted usage.",
)
@click.option("--full-refresh", is_flag=True, help="Rebuild every table from scratch, not only the months touched.")
@click.option("--skip-validate", is_flag=True, help="Leave out the Great Expectations checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress lines: only warnings, errors and the summary.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (the build record and summary).")
@_resource_options
@_target_option
def build(
    warehouse: str | None,
    through_month: str | None,
    full_refresh: bool,
    skip_validate: bool,
    quiet: bool,
    as_json: bool,
    memory_limit: str | None,
    threads: int | None,
    target: str,
) -> None:
    """Seed, build and test the marts from the warehouse's raw tables, then validate them.

    Incremental: only the billing months that rows landed since the previous build touch are rebuilt.
    One build at a time per warehouse; every build on DuckDB is recorded in audit.build_runs.
    """
    from overages import summary
    from overages.build import run_build
    from overages.progress import Progress

    _apply_resources(memory_limit, threads)
    progress = Progress(enabled=not (quiet or as_json))
    started = time.perf_counter()
    if target == "spark":
        _build_on_spark(through_month, full_refresh, skip_validate, as_json, progress, started)
        return
    path = resolve_path(warehouse)
    result = run_build(path, through_month=through_month, full_refresh=full_refresh, validate=not skip_validate,
                       progress=progress)  # fmt: skip
    elapsed = time.perf_counter() - started
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    record = result.record
    if as_json:
        document = {
            "warehouse": str(path),
            "seconds": round(elapsed, 2),
            "build": record.as_json(),
            "summary": result.summary,
            "validation": result.validation.as_json() if result.validation else None,
        }
        click.echo(json.dumps(document, indent=2, default=summary.json_default))
    else:
        click.echo(summary.render(result.summary, path))
        seeds = record.reference_changes.get("seeds_changed")
        quiet_raw = "none (no raw rows landed)" if seeds else "none (nothing new landed)"
        rebuilt = ", ".join(record.months_rebuilt) or quiet_raw
        click.echo(f"\nBuilt in {elapsed:.1f} s ({'full refresh' if record.full_refresh else 'incremental'}); "
                   f"months rebuilt: {rebuilt}; raw rows landed since the previous build: "
                   f"{record.rows_landed_since_previous:,}.")  # fmt: skip
        if seeds:
            repriced = ", ".join(record.reference_changes.get("months_repriced") or []) or "none"
            click.echo(f"Reference data changed since the previous build: {', '.join(seeds)}; "
                       f"months re-priced: {repriced}.")  # fmt: skip
        if result.validation:
            click.echo("")
            click.echo(result.validation.render())
    if record.outcome == "validation_failed":
        raise ValidationFailed(record.message or "validation failed")


def _build_on_spark(through_month: str | None, full_refresh: bool, skip_validate: bool, as_json: bool,
                    progress: object, started: float) -> None:  # fmt: skip
    from overages import spark, summary
    from overages.build import run_spark_build

    result = run_spark_build(through_month=through_month, full_refresh=full_refresh, validate=not skip_validate,
                             progress=progress)  # type: ignore[arg-type]  # fmt: skip
    elapsed = time.perf_counter() - started
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    home = spark.spark_home()
    if as_json:
        document = {
            "target": "spark",
            "spark_home": str(home),
            "seconds": round(elapsed, 2),
            "full_refresh": result.full_refresh,
            "raw_rows": result.raw_rows,
            "summary": result.summary,
            "validation": result.validation.as_json() if result.validation else None,
        }
        click.echo(json.dumps(document, indent=2, default=summary.json_default))
    else:
        click.echo(summary.render(result.summary, home, query_hint=False))
        click.echo(f"\nBuilt on Spark in {elapsed:.1f} s ({'full refresh' if result.full_refresh else 'incremental'}); "
                   f"raw rows: {sum(result.raw_rows.values()):,}.")  # fmt: skip
        if result.validation:
            click.echo("")
            click.echo(result.validation.render())
    if result.validation and not result.validation.success:
        first = result.validation.failures[0]
        raise ValidationFailed(f"validation failed: {first.describe()}")


@main.command()
@_warehouse_option
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Builds to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status(warehouse: str | None, limit: int, as_json: bool) -> None:
    """The last builds (audit.build_runs) and the freshness of each raw table."""
    from overages import status as status_report
    from overages.summary import json_default

    path = resolve_path(warehouse)
    con = connect(path, read_only=True)
    try:
        data = status_report.collect(con, limit)
    finally:
        con.close()
    if as_json:
        click.echo(json.dumps({"warehouse": str(path), **data}, indent=2, default=json_default))
    else:
        click.echo(status_report.render(data, path))


@main.command()
@_warehouse_option
def validate(warehouse: str | None) -> None:
    """Run the Great Expectations checkpoint on the warehouse's marts; exits 1 when an invariant fails."""
    path = resolve_path(warehouse)
    con = connect(path, read_only=True)
    try:
        _require_marts(con, path)
        _validate(con)
    finally:
        con.close()


@main.command()
@_warehouse_option
@_target_option
@click.option("--format", "file_format", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--month", callback=_month, default=None, help="Only this billing month (YYYY-MM).")
@click.argument("folder", type=click.Path(file_okay=False))
def export(warehouse: str | None, target: str, file_format: str, month: str | None, folder: str) -> None:
    """Write the marts and the FOCUS view to FOLDER as parquet or CSV files (read-only on the warehouse).

    In CSV, text that a spreadsheet would run as a formula (starting with = + - @) gets a leading apostrophe.
    """
    from pathlib import Path

    from overages.export import export as write_files

    chosen = parse_month(month) if month else None
    if target == "spark":
        from overages import spark

        with _spark_lock():
            con = spark.mirror(spark.spark_home() / "mirror")
            try:
                written = write_files(con, Path(folder).resolve(), file_format, chosen)
            finally:
                con.close()
    else:
        path = resolve_path(warehouse)
        con = connect(path, read_only=True)
        try:
            _require_marts(con, path)
            written = write_files(con, Path(folder).resolve(), file_format, chosen)
        finally:
            con.close()
    for name, rows in written.items():
        click.echo(f"  {Path(folder) / name}  {rows:,} rows")


def _require_marts(con: duckdb.DuckDBPyConnection, path: object) -> None:
    for schema, table in (("marts", "fct_monthly_overages"), ("audit", "rejected_rows")):
        found = con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
        if not found:
            raise OveragesError(f"{path} has no {schema}.{table}: build it first (overages build)")


@main.command()
@_warehouse_option
def docs(warehouse: str | None) -> None:
    """Generate the dbt docs site (every model, column, seed, source and exposure) and print its path."""
    from overages.dbt_invoke import docs as generate_docs

    path = resolve_path(warehouse)
    con = connect(path, read_only=True)
    try:
        _require_marts(con, path)
    finally:
        con.close()
    page = generate_docs(path)
    click.echo(f"Docs site: {page} (one self-contained page; open it in a browser)")


@main.command()
@_warehouse_option
@click.option("--month", callback=_month, default=None, help="Billing month to report (YYYY-MM); default: the latest.")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="HTML file to write (default: reports/overages-YYYY-MM.html in the project).")  # fmt: skip
def report(warehouse: str | None, month: str | None, output: str | None) -> None:
    """Write the month at a glance as one self-contained HTML file (read-only on the warehouse)."""
    from pathlib import Path

    from overages.report import write
    from overages.warehouse import PROJECT_DIR

    path = resolve_path(warehouse)
    con = connect(path, read_only=True)
    try:
        _require_marts(con, path)
        chosen = parse_month(month) if month else None
        if chosen is None:
            latest = con.execute("select max(billing_month) from marts.fct_monthly_overages").fetchall()[0][0]
            label = latest.strftime("%Y-%m") if latest else "empty"
        else:
            label = month
        target = Path(output).resolve() if output else PROJECT_DIR / "reports" / f"overages-{label}.html"
        write(con, target, chosen)
    finally:
        con.close()
    click.echo(f"Report: {target}")


@main.command()
@_warehouse_option
@click.option("--month", callback=_month, required=True, help="Billing month of the invoice (YYYY-MM).")
@click.option("--org", "org_id", default=None, help="The org billed (its org_id, letter case kept).")
@click.option("--all", "all_folder", type=click.Path(file_okay=False), default=None, metavar="FOLDER",
              help="Write every org's invoice for the month into FOLDER instead of one org's.")  # fmt: skip
@click.option("--output", type=click.Path(file_okay=False), default=None, metavar="FOLDER",
              help="Folder for the HTML page and CSV (default: invoices/YYYY-MM in the project).")  # fmt: skip
def invoice(warehouse: str | None, month: str, org_id: str | None, all_folder: str | None, output: str | None) -> None:
    """Print one org's bill for a month and write it as an HTML page and a CSV (read-only on the warehouse).

    Final once the month is closed (as issued), draft while it is open (as the rules compute it now).
    """
    from pathlib import Path

    from overages import invoices
    from overages.warehouse import PROJECT_DIR

    if (org_id is None) == (all_folder is None):
        raise click.UsageError("give either --org ORG (one invoice) or --all FOLDER (every org's)")
    chosen = parse_month(month)
    path = resolve_path(warehouse)
    con = connect(path, read_only=True)
    try:
        _require_marts(con, path)
        if all_folder is not None:
            bills = invoices.load_month(con, chosen)
        else:
            bills = [invoices.load(con, org_id or "", chosen)]
    finally:
        con.close()
    folder = Path(all_folder or output or PROJECT_DIR / "invoices" / month).resolve()
    for bill in bills:
        page, table = invoices.write(bill, folder)
        if all_folder is None:
            click.echo(invoices.render_text(bill))
            click.echo(f"\nWritten: {page}\n         {table}")
    if all_folder is not None:
        final = sum(1 for bill in bills if bill.header["status"] == "final")
        click.echo(f"Wrote {len(bills)} invoices for {month} ({final} final, {len(bills) - final} draft) "
                   f"to {folder} (an HTML page and a CSV each)")  # fmt: skip


def _today_utc():  # noqa: ANN202 - a date
    from datetime import UTC, datetime

    return datetime.now(UTC).date()


@main.command()
@_warehouse_option
@click.option("--month", callback=_month, required=True, help="The billing month to close (YYYY-MM).")
@click.option("--quiet", is_flag=True, help="No progress lines from the build that follows.")
def close(warehouse: str | None, month: str, quiet: bool) -> None:
    """Finalise a past month's invoices: issue them as the last (validated) build computed them, then rebuild.

    Later changes to a closed month (late usage, corrections, price edits) leave its invoices as issued and
    appear as adjustment lines on each org's next open month. Refused for the current or a future month and
    after a build that failed or skipped validation.
    """
    from overages.closing import close_month
    from overages.progress import Progress

    event = close_month(resolve_path(warehouse), parse_month(month), _today_utc(), Progress(enabled=not quiet))
    click.echo(f"Closed {month}: {event.invoices:,} invoices issued ({event.lines:,} lines), recorded as "
               f"{event.event_id} in audit.month_close_events and audit.invoices_issued.")  # fmt: skip
    _echo_follow_up_build(event.build)


@main.command()
@_warehouse_option
@click.option("--month", callback=_month, required=True, help="The closed billing month to open again (YYYY-MM).")
@click.option("--reason", required=True, help="Why it is re-opened (recorded with the event).")
@click.option("--quiet", is_flag=True, help="No progress lines from the build that follows.")
def reopen(warehouse: str | None, month: str, reason: str, quiet: bool) -> None:
    """Open a closed month again, recording why; its invoices become drafts again on the next build.

    The invoices it issued stay in audit.invoices_issued. Refused while a later closed month's invoices carry
    adjustments to it (re-open that month first).
    """
    from overages.closing import reopen_month
    from overages.progress import Progress

    event = reopen_month(resolve_path(warehouse), parse_month(month), reason, Progress(enabled=not quiet))
    click.echo(f"Re-opened {month} ({event.invoices:,} invoices issued by its close no longer final), recorded as "
               f"{event.event_id} in audit.month_close_events.")  # fmt: skip
    _echo_follow_up_build(event.build)


def _echo_follow_up_build(result: object) -> None:
    if result is None:
        return
    record = result.record  # type: ignore[attr-defined]
    click.echo(f"Rebuilt the marts (build {record.build_id}, {record.outcome}).")
    if record.outcome == "validation_failed":
        raise ValidationFailed(record.message or "validation failed")


@main.command()
@_warehouse_option
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True, help="Rows to print.")
def analyses(warehouse: str | None, name: str | None, limit: int) -> None:
    """List the analyses (analyses/*.sql), or run NAME: compiled by dbt, run read-only, printed as a table."""
    from overages import analyses as questions

    if name is None:
        listed = questions.available()
        width = max(len(n) for n in listed)
        click.echo("Analyses (overages analyses NAME runs one):")
        for analysis, about in listed.items():
            click.echo(f"  {analysis:<{width}}  {about}")
        return
    path = resolve_path(warehouse)
    con = connect(path, read_only=True)
    try:
        _require_marts(con, path)
    finally:
        con.close()
    columns, rows = questions.run(path, name)
    click.echo(questions.render(columns, rows, limit))


@main.command("gx-config")
def gx_config() -> None:
    """Write the Great Expectations project (gx/) from the suites defined in code."""
    from overages.validation.project import write_project
    from overages.warehouse import PROJECT_DIR

    write_project(PROJECT_DIR)
    click.echo(f"Wrote the suites, validation definitions and checkpoint to {PROJECT_DIR / 'gx'}")


def _validate(con: duckdb.DuckDBPyConnection) -> None:
    from overages.validation.runner import validate as run_checkpoint
    from overages.warehouse import PROJECT_DIR

    report = run_checkpoint(con, PROJECT_DIR)
    click.echo(report.render())
    if not report.success:
        first = report.failures[0]
        more = f" (and {len(report.failures) - 1} more)" if len(report.failures) > 1 else ""
        raise ValidationFailed(f"validation failed: {first.describe()}{more}")


def run() -> None:
    """Entry point: one-line errors and a non-zero exit instead of tracebacks."""
    try:
        main(standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except OveragesError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # a traceback is a bug: say so in one line, show it only when asked
        if os.environ.get("OVERAGES_DEBUG"):
            raise
        first = (str(error).strip().splitlines() or [""])[0]
        click.echo(
            f"error: unexpected {type(error).__name__}: {first} (a bug: rerun with OVERAGES_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(3)


if __name__ == "__main__":
    run()
