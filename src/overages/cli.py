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
from overages.warehouse import connect, open_reader, resolve_path

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
    warehouse: str | None,
    land_rows: Callable[[duckdb.DuckDBPyConnection], dict[str, int]],
    *,
    replaces: bool = True,
) -> tuple[str, dict[str, int]]:
    """Land into the warehouse's build file (created when missing) under the build lock, so that no build reads
    a raw table while it is replaced (replaces: the landing replaces its tables, rather than appending to them);
    says where, and returns rows landed per table."""
    from overages import publish, runs

    path = resolve_path(warehouse)
    work = publish.build_path(path)
    work.parent.mkdir(parents=True, exist_ok=True)
    with runs.build_lock(path):
        con = connect(work)
        try:
            counts = land_rows(con)
            publish.mark_landed(con, list(counts), runs.utc_now(), replaced=replaces)
            return f"{work} (the build file of {path.name})", counts
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
    folder of files) with the columns of the landing contract (docs/rules.md), cast to the contract's types."""
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


@main.group()
def extract() -> None:
    """Fetch raw data from a source's API and land it in the warehouse's raw tables."""


@extract.command("genesys")
@_warehouse_option
@click.option(
    "--client-id",
    envvar="GENESYS_CLOUD_CLIENT_ID",
    show_envvar=True,
    default=None,
    help="OAuth client id (client-credentials grant).",
)
@click.option(
    "--client-secret", envvar="GENESYS_CLOUD_CLIENT_SECRET", show_envvar=True, default=None, help="OAuth client secret."
)
@click.option(
    "--region",
    envvar="GENESYS_CLOUD_REGION",
    show_envvar=True,
    default=None,
    help="Genesys Cloud region's domain, e.g. mypurecloud.com, mypurecloud.ie, usw2.pure.cloud.",
)
@click.option(
    "--api-host",
    envvar="GENESYS_CLOUD_API_HOST",
    show_envvar=True,
    default=None,
    help="API base URL, overriding the region's (a full URL; http://127.0.0.1:PORT allowed).",
)
@click.option(
    "--login-host",
    envvar="GENESYS_CLOUD_LOGIN_HOST",
    show_envvar=True,
    default=None,
    help="Login base URL, overriding the one derived from the API's.",
)
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Fetch cases and invoices from this UTC instant, not from where the last run ended.",
)
def extract_genesys(
    warehouse: str | None,
    client_id: str | None,
    client_secret: str | None,
    region: str | None,
    api_host: str | None,
    login_host: str | None,
    since: object,
) -> None:
    """Cases, workitems, billing-period charges and invoice lines from Genesys Cloud's API, appended to the raw
    tables in one transaction (nothing lands when a run fails). Incremental: each run fetches what changed
    since the last successful one (state in extract.genesys_state). See docs/genesys-extract.md."""  # fmt: skip
    from overages import genesys_extract
    from overages.genesys_api import Client, ExtractError, resolve_hosts

    if not client_id or not client_secret:
        raise ExtractError("no OAuth client: set GENESYS_CLOUD_CLIENT_ID and GENESYS_CLOUD_CLIENT_SECRET "
                           "(a client-credentials client, see docs/genesys-extract.md)")  # fmt: skip
    api, login = resolve_hosts(region, api_host, login_host)
    path = resolve_path(warehouse)
    started = time.perf_counter()
    client = Client(api_host=api, login_host=login, client_id=client_id, client_secret=client_secret,
                    progress=lambda line: click.echo(line, err=True))  # fmt: skip
    click.echo(f"Extracting from {api}", err=True)
    client.authenticate()
    from overages.publish import build_path

    state = genesys_extract.read_state(build_path(path))
    batch = genesys_extract.fetch(client, state, since=since)  # type: ignore[arg-type]
    where, counts = _land_in_duckdb(warehouse, lambda con: genesys_extract.land(con, batch), replaces=False)
    click.echo(f"Fetched {sum(client.fetched.values()):,} records in {client.requests:,} requests from "
               f"{batch.org_name} ({batch.org_id}).")  # fmt: skip
    _echo_landed("Genesys Cloud's API", where, started, counts)


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
@click.option(
    "--as-of",
    "as_of",
    default=lambda: os.environ.get("OVERAGES_AS_OF") or None,
    metavar="INSTANT",
    help="The build's as-of instant, YYYY-MM-DD HH:MM:SS UTC (default: $OVERAGES_AS_OF, else when it starts): "
    "the horizon is never later than its month, and rows dated after it wait.",
)
@click.option("--full-refresh", is_flag=True, help="Rebuild every table from scratch, not only the months touched.")
@click.option("--skip-validate", is_flag=True, help="Leave out the Great Expectations checkpoint.")
@click.option("--force", is_flag=True,
              help="Run dbt and the checkpoint even when nothing changed since the published build.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress lines: only warnings, errors and the summary.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (the build record and summary).")
@click.option("--keep-snapshots", type=click.IntRange(1, 1000), default=3, show_default=True,
              envvar="OVERAGES_KEEP_SNAPSHOTS", show_envvar=True,
              help="Published snapshots to keep for rollback (overages publish --list).")  # fmt: skip
@_resource_options
@_target_option
def build(
    warehouse: str | None,
    through_month: str | None,
    as_of: str | None,
    full_refresh: bool,
    skip_validate: bool,
    force: bool,
    quiet: bool,
    as_json: bool,
    keep_snapshots: int,
    memory_limit: str | None,
    threads: int | None,
    target: str,
) -> None:
    """Seed, build and test the marts from the warehouse's raw tables, validate them, then publish them.

    Builds write the build file (<warehouse>.build/); only a build whose dbt tests and failure-level expectations
    passed replaces the published file that readers open, in one rename. Incremental: only the billing months that
    rows landed since the previous build touch are rebuilt. One build at a time per warehouse; every build on
    DuckDB is recorded in audit.build_runs.
    """
    from overages import summary
    from overages.build import run_build
    from overages.horizon import check_through_month, resolve_as_of
    from overages.progress import Progress

    _apply_resources(memory_limit, threads)
    check_through_month(through_month, resolve_as_of(as_of))
    progress = Progress(enabled=not (quiet or as_json))
    started = time.perf_counter()
    if target == "spark":
        _build_on_spark(through_month, full_refresh, skip_validate, as_json, progress, started)
        return
    path = resolve_path(warehouse)
    result = run_build(path, through_month=through_month, full_refresh=full_refresh, validate=not skip_validate,
                       progress=progress, keep_snapshots=keep_snapshots, force=force)  # fmt: skip
    elapsed = time.perf_counter() - started
    for warning in [*result.warnings, *_horizon_warnings(path)]:
        click.echo(f"warning: {warning}", err=True)
    record = result.record
    if result.up_to_date and not as_json:
        click.echo(summary.render(result.summary, path))
        click.echo(f"\nNothing new since build {result.up_to_date} ({elapsed:.1f} s): the raw tables, the reference "
                   "data and the models are as that build read them, and its snapshot is published.")  # fmt: skip
        return
    if as_json:
        document = {
            "warehouse": str(path),
            "seconds": round(elapsed, 2),
            "build": record.as_json(),
            "summary": result.summary,
            "validation": result.validation.as_json() if result.validation else None,
            "up_to_date": result.up_to_date,
            "dbt": result.dbt_nodes,
            "checkpoint_seconds": None if result.checkpoint_seconds is None else round(result.checkpoint_seconds, 2),
            "published": None if result.snapshot is None else {
                "path": str(result.snapshot.path), "build_id": result.snapshot.build_id,
                "seconds": round(result.snapshot.seconds, 2), "bytes": result.snapshot.bytes},
        }  # fmt: skip
        click.echo(json.dumps(document, indent=2, default=summary.json_default))
    else:
        click.echo(summary.render(result.summary, path))
        seeds = record.reference_changes.get("seeds_changed")
        rebuilt = ", ".join(record.months_rebuilt) or (
            "none (the reference data changed, no billed figure did)" if seeds else "none (no billed figure changed)"
        )
        click.echo(f"\nBuilt in {elapsed:.1f} s ({'full refresh' if record.full_refresh else 'incremental'}); "
                   f"months changed: {rebuilt}; raw rows landed since the previous build: "
                   f"{record.rows_landed_since_previous:,}.")  # fmt: skip
        if seeds:
            repriced = ", ".join(record.reference_changes.get("months_repriced") or []) or "none"
            click.echo(f"Reference data changed since the previous build: {', '.join(seeds)}; "
                       f"months re-priced: {repriced}.")  # fmt: skip
        if result.validation:
            click.echo("")
            click.echo(result.validation.render())
        if result.snapshot:
            snap = result.snapshot
            click.echo(f"\nPublished build {snap.build_id} to {snap.path} in {snap.seconds:.1f} s "
                       f"({snap.bytes / 2**20:,.1f} MiB): readers that connect now see it.")  # fmt: skip
    if record.outcome == "validation_failed":
        raise ValidationFailed(record.message or "validation failed")


def _horizon_warnings(path: object) -> list[str]:
    from overages.horizon import horizon_warning
    from overages.publish import build_path

    # The build file holds the intermediate models (the published snapshot does not). Read-write, as the build's
    # own connections were: DuckDB refuses a second configuration of one file in one process.
    con = connect(build_path(path))  # type: ignore[arg-type]
    try:
        warning = horizon_warning(con)
    finally:
        con.close()
    return [warning] if warning else []


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
            "published": None if result.snapshot is None else {
                "path": str(result.snapshot.path), "build_id": result.snapshot.build_id,
                "seconds": round(result.snapshot.seconds, 2), "bytes": result.snapshot.bytes},
        }  # fmt: skip
        click.echo(json.dumps(document, indent=2, default=summary.json_default))
    else:
        click.echo(summary.render(result.summary, home, query_hint=False))
        click.echo(f"\nBuilt on Spark in {elapsed:.1f} s ({'full refresh' if result.full_refresh else 'incremental'}); "
                   f"raw rows: {sum(result.raw_rows.values()):,}.")  # fmt: skip
        if result.validation:
            click.echo("")
            click.echo(result.validation.render())
        if result.snapshot:
            click.echo(f"\nPublished the marts to {result.snapshot.path} in {result.snapshot.seconds:.1f} s: "
                       "readers that connect now see them.")  # fmt: skip
    if result.validation and not result.validation.success:
        first = result.validation.failures[0]
        raise ValidationFailed(f"validation failed: {first.describe()}")


@main.command("publish")
@_warehouse_option
@click.option("--list", "list_them", is_flag=True, help="List the kept snapshots, newest first.")
@click.option("--rollback", "rollback_to", metavar="BUILD", default=None,
              help="Publish the kept snapshot of build BUILD again (a build id from --list).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="With --list: one JSON document.")
def publish_command(warehouse: str | None, list_them: bool, rollback_to: str | None, as_json: bool) -> None:
    """The published snapshots: list the kept ones, or go back to one (until the next build publishes)."""
    from overages import publish, runs
    from overages.summary import json_default

    path = resolve_path(warehouse)
    if rollback_to is not None and list_them:
        raise click.UsageError("give --list or --rollback BUILD, not both")
    if rollback_to is not None:
        with runs.build_lock(path):
            publish.rollback(path, rollback_to)
            _record_rollback(path, rollback_to)
        click.echo(f"Published snapshot {rollback_to} again at {path}; the next build publishes its own.")
        return
    snapshots = publish.list_snapshots(path)
    if as_json:
        click.echo(json.dumps({"warehouse": str(path), "snapshots": snapshots}, indent=2, default=json_default))
        return
    if not snapshots:
        click.echo(f"No snapshot kept for {path}: a build that passes its checks publishes one (overages build).")
        return
    click.echo(f"Snapshots of {path} (newest first; * is the published one):")
    for snap in snapshots:
        mark = "*" if snap["is_published"] else " "
        built = f"{snap['built_at']:%Y-%m-%d %H:%M:%S}" if snap.get("built_at") else "?"
        click.echo(f" {mark} {snap['build_id']}  built {built} UTC  checkpoint {snap.get('checkpoint') or '?'}  "
                   f"{snap['bytes'] / 2**20:,.1f} MiB")  # fmt: skip


def _record_rollback(path: object, build_id: str) -> None:
    """A rollback is recorded in audit.build_runs, so the record of what readers saw stays whole."""
    from overages import publish, runs

    work = publish.build_path(path)  # type: ignore[arg-type]
    if not work.exists():
        return
    con = connect(work)
    try:
        runs.ensure_build_runs(con)
        now = runs.utc_now()
        con.execute(
            "insert into audit.build_runs (build_id, started_at, ended_at, outcome, message, published_at) "
            "values (?, ?, ?, 'rolled_back', ?, ?)",
            [f"rollback-{now:%Y%m%dT%H%M%S%f}", now, now, f"published snapshot {build_id} again", now],
        )
        publish.write_journal(path, runs.recent(con))  # type: ignore[arg-type]
    finally:
        con.close()


@main.command()
@_warehouse_option
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Builds to show.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status(warehouse: str | None, limit: int, as_json: bool) -> None:
    """The last builds (audit.build_runs) and the freshness of each raw table."""
    from overages import status as status_report
    from overages.summary import json_default

    path = resolve_path(warehouse)
    data = status_report.collect(path, limit)
    if as_json:
        click.echo(json.dumps({"warehouse": str(path), **data}, indent=2, default=json_default))
    else:
        click.echo(status_report.render(data, path))


@main.command()
@_warehouse_option
def validate(warehouse: str | None) -> None:
    """Run the Great Expectations checkpoint on the warehouse's marts; exits 1 when an invariant fails."""
    path = resolve_path(warehouse)
    con = open_reader(path)
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
        con = open_reader(path)
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
    con = open_reader(path)
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
              help="HTML file to write (default: reports/overages-YYYY-MM.html in the state folder).")  # fmt: skip
def report(warehouse: str | None, month: str | None, output: str | None) -> None:
    """Write the month at a glance as one self-contained HTML file (read-only on the warehouse)."""
    from pathlib import Path

    from overages.report import write
    from overages.warehouse import state_dir

    path = resolve_path(warehouse)
    con = open_reader(path)
    try:
        _require_marts(con, path)
        chosen = parse_month(month) if month else None
        if chosen is None:
            latest = con.execute("select max(billing_month) from marts.fct_monthly_overages").fetchall()[0][0]
            label = latest.strftime("%Y-%m") if latest else "empty"
        else:
            label = month
        target = Path(output).resolve() if output else state_dir() / "reports" / f"overages-{label}.html"
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
    from overages.warehouse import state_dir

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
    folder = Path(all_folder or output or state_dir() / "invoices" / month).resolve()
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
@_target_option
def close(warehouse: str | None, month: str, quiet: bool, target: str) -> None:
    """Finalise a past month's invoices: issue them as the last (validated) build computed them, then rebuild.

    Later changes to a closed month (late usage, corrections, price edits) leave its invoices as issued and
    appear as adjustment lines on each org's next open month. Refused for the current or a future month and
    after a build that failed or skipped validation.
    """
    from overages.closing import close_month
    from overages.progress import Progress

    path = None if target == "spark" else resolve_path(warehouse)
    event = close_month(path, parse_month(month), _today_utc(), Progress(enabled=not quiet), target=target)
    click.echo(f"Closed {month}: {event.invoices:,} invoices issued ({event.lines:,} lines), recorded as "
               f"{event.event_id} in audit.month_close_events and audit.invoices_issued.")  # fmt: skip
    _echo_follow_up_build(event.build)


@main.command()
@_warehouse_option
@click.option("--month", callback=_month, required=True, help="The closed billing month to open again (YYYY-MM).")
@click.option("--reason", required=True, help="Why it is re-opened (recorded with the event).")
@click.option("--quiet", is_flag=True, help="No progress lines from the build that follows.")
@_target_option
def reopen(warehouse: str | None, month: str, reason: str, quiet: bool, target: str) -> None:
    """Open a closed month again, recording why; its invoices become drafts again on the next build.

    The invoices it issued stay in audit.invoices_issued. Refused while a later closed month's invoices carry
    adjustments to it (re-open that month first).
    """
    from overages.closing import reopen_month
    from overages.progress import Progress

    path = None if target == "spark" else resolve_path(warehouse)
    event = reopen_month(path, parse_month(month), reason, Progress(enabled=not quiet), target=target)
    click.echo(f"Re-opened {month} ({event.invoices:,} invoices issued by its close no longer final), recorded as "
               f"{event.event_id} in audit.month_close_events.")  # fmt: skip
    _echo_follow_up_build(event.build)


def _echo_follow_up_build(result: object) -> None:
    if result is None:
        return
    record = getattr(result, "record", None)
    if record is None:  # a Spark build: no audit.build_runs, its snapshot says whether it passed
        validation = result.validation  # type: ignore[attr-defined]
        click.echo(f"Rebuilt the marts on Spark ({'published' if result.snapshot else 'not published'}).")  # type: ignore[attr-defined]
        if validation is not None and not validation.success:
            raise ValidationFailed(f"validation failed: {validation.failures[0].describe()}")
        return
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
    columns, rows, units = questions.run(path, name)
    click.echo(questions.render(columns, rows, limit, units))


@main.command("gx-config")
def gx_config() -> None:
    """Write the Great Expectations project (gx/) from the suites defined in code."""
    from overages.validation.project import write_project
    from overages.warehouse import PROJECT_DIR

    write_project(PROJECT_DIR)
    click.echo(f"Wrote the suites, validation definitions and checkpoint to {PROJECT_DIR / 'gx'}")


def _validate(con: duckdb.DuckDBPyConnection) -> None:
    from overages.validation.runner import validate as run_checkpoint
    from overages.warehouse import state_dir

    report = run_checkpoint(con, state_dir())
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
    except click.UsageError as error:  # one line too: the command, what is wrong, where help is
        command = error.ctx.command_path if error.ctx is not None else "overages"
        message = " ".join(error.format_message().split())
        click.echo(f"error: {message} (see {command} --help)", err=True)
        sys.exit(error.exit_code)
    except click.ClickException as error:
        click.echo(f"error: {' '.join(error.format_message().split())}", err=True)
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
