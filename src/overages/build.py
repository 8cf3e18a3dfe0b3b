"""A build, end to end: lock, check the landing contract, record, run dbt, validate, report."""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from overages import dbt_invoke, publish, runs, summary
from overages.errors import OveragesError
from overages.progress import Progress
from overages.warehouse import PROJECT_DIR, check_raw_contract, connect, create_missing_optional_tables, state_dir


@dataclass
class BuildResult:
    record: runs.BuildRecord
    summary: dict[str, Any]
    validation: Any | None  # overages.validation.runner.ValidationReport
    warnings: list[str]
    snapshot: publish.Snapshot | None = None  # None: nothing was published
    up_to_date: str | None = None  # the published build that already holds what this build would compute
    dbt_nodes: dict[str, Any] | None = None  # dbt_invoke.DbtOutcome.slowest(): where dbt's time went
    checkpoint_seconds: float | None = None  # the Great Expectations checkpoint, None when skipped


def run_build(
    path: Path,
    *,
    through_month: str | None,
    full_refresh: bool,
    validate: bool,
    progress: Progress,
    keep_snapshots: int = publish.DEFAULT_KEEP,
    force: bool = False,
) -> BuildResult:
    """Build the warehouse whose published snapshot is `path`: write the build file, check it (dbt's tests, then
    the Great Expectations checkpoint) and publish what passed. Raises OveragesError (or a subclass) with a
    one-line message; a build that raises has published nothing.
    """
    warnings: list[str] = []
    work = publish.build_path(path)
    if not path.exists() and not work.exists():
        raise OveragesError(f"warehouse {path} does not exist: land raw data first (overages demo) "
                            "or point WAREHOUSE_PATH at your DuckDB file")  # fmt: skip
    with runs.build_lock(path):
        progress.step("checking the raw tables against the landing contract")
        work.parent.mkdir(parents=True, exist_ok=True)
        publish.clean_leftovers(path)
        con = connect(work)
        try:
            runs.settle_unfinished(con, publish.snapshot_info(path))
            taken = publish.take_over_published_raw(con, path, runs.utc_now())
            if taken:
                warnings.append(f"took over raw tables written into {path.name} directly: {', '.join(taken)}")
            try:
                landed = check_raw_contract(con)
            except OveragesError as error:
                try:  # on the record when it can be (a full disk must not hide the contract's one-line error)
                    runs.record_refused(con, through_month, full_refresh, str(error))
                    publish.write_journal(path, runs.recent(con))
                except (duckdb.Error, OSError):
                    pass
                raise
            created = create_missing_optional_tables(con)
            if created:
                progress.step(f"note: no {', '.join(f'raw.{t}' for t in created)} landed (overages extract genesys "
                              "lands them): created empty, so the billing reconciliation is empty")  # fmt: skip
            digest = runs.inputs_digest(con, PROJECT_DIR, through_month)
            current = None if full_refresh or force else _already_published(con, path, digest, validate)
            if current is not None:
                record = runs.BuildRecord(build_id=current, started_at=runs.utc_now(), through_month=through_month,
                                          full_refresh=False, outcome="success")  # fmt: skip
                return BuildResult(record=record, summary=summary.collect(con), validation=None, warnings=warnings,
                                   up_to_date=current)  # fmt: skip
            if landed["org_subscriptions"] == 0:
                warnings.append("raw.org_subscriptions is empty: no org can be billed, every usage row is rejected")
            # Tests of the large incremental tables check only the rows this build writes when every earlier
            # row passed them in an earlier build (macros/incremental.sql, tests_scoped_to_this_build).
            test_every_row = runs.previous_build_failed(con)
            drifted = [] if full_refresh else runs.incremental_drift(con)
            if drifted:
                full_refresh = True
                warnings.append(f"{', '.join(drifted)} changed in a way an incremental build cannot follow (rows "
                                "landed with an _loaded_at no later than rows already built, or rows removed): "
                                "this build is a full refresh")  # fmt: skip
            if not full_refresh:
                expected = runs.incremental_model_columns(PROJECT_DIR / "models")
                full_refresh = _reshaped(runs.reshaped_models(expected, runs.built_columns(con, list(expected))),
                                         warnings)  # fmt: skip
            drifted_tables = {name.split(".", 1)[1] for name in drifted}
            record = runs.start(con, through_month, full_refresh, replaced=drifted_tables - set(taken), digest=digest,
                                new_rows=taken)  # fmt: skip
            priced_before = runs.pricing_digest(con)
            publish.write_journal(path, runs.recent(con))
        finally:
            con.close()
        progress.step(f"building with dbt ({'full refresh' if full_refresh else 'incremental'})")
        warming = _warm_checkpoint() if validate else None
        try:
            dbt_outcome = dbt_invoke.build(
                work,
                through_month=through_month,
                full_refresh=full_refresh,
                progress=progress,
                tests_scope="all" if test_every_row else "this_build",
            )
        except OveragesError as error:
            _finish(path, record, "failed", str(error))
            raise
        except BaseException:
            _finish(path, record, "failed", "interrupted")
            raise
        con = connect(work)
        try:
            months = runs.changed_months(con, path)
            report = None
            checkpoint_seconds = None
            if validate:
                progress.step("validating the marts with Great Expectations")
                if warming is not None:
                    warming.join()
                from overages.validation.runner import validate as run_checkpoint

                checking = time.perf_counter()
                report = run_checkpoint(con, state_dir())
                checkpoint_seconds = time.perf_counter() - checking
                if not report.success:
                    first = report.failures[0]
                    more = f" (and {len(report.failures) - 1} more)" if len(report.failures) > 1 else ""
                    message = f"validation failed: {first.describe()}{more}; the previous snapshot stays published"
                    runs.record_reference_changes(con, record, priced_before, PROJECT_DIR / "seeds")
                    runs.finish(con, record, "validation_failed", message, months, validated=True)
                    publish.write_journal(path, runs.recent(con))
                    return BuildResult(record=record, summary=summary.collect(con), validation=report,
                                       warnings=warnings, dbt_nodes=dbt_outcome.slowest(),
                                       checkpoint_seconds=checkpoint_seconds)  # fmt: skip
            runs.record_reference_changes(con, record, priced_before, PROJECT_DIR / "seeds")
            runs.finish(con, record, "publishing", months=months, validated=report is not None)
            publish.pause_point("publish:before-snapshot")
            progress.step("publishing the snapshot readers open")
            published_at = runs.utc_now()
            try:
                snapshot = publish.publish(con, path, build_id=record.build_id, built_at=record.started_at,
                                           published_at=published_at,
                                           checkpoint="passed" if validate else "skipped",
                                           through_month=through_month, full_refresh=full_refresh,
                                           keep=keep_snapshots)  # fmt: skip
            except OveragesError as error:
                runs.finish(con, record, "publish_failed", str(error))
                publish.write_journal(path, runs.recent(con))
                raise
            runs.mark_published(con, record, published_at)
            record.published_at = published_at
            publish.write_journal(path, runs.recent(con))
            return BuildResult(record=record, summary=summary.collect(con), validation=report, warnings=warnings,
                               snapshot=snapshot, dbt_nodes=dbt_outcome.slowest(),
                               checkpoint_seconds=checkpoint_seconds)  # fmt: skip
        finally:
            con.close()


def _import_checkpoint() -> None:
    # Should it fail, the checkpoint imports it again in the main thread and says what failed.
    with contextlib.suppress(BaseException):
        importlib.import_module("overages.validation.runner")


def _warm_checkpoint() -> threading.Thread:
    """Import Great Expectations (about 3.5 s of Python, pyspark and scipy among it) while dbt runs, mostly
    inside DuckDB with the interpreter free, rather than after it: the checkpoint then starts at once."""
    thread = threading.Thread(target=_import_checkpoint, name="import-great-expectations", daemon=True)
    thread.start()
    return thread


@dataclass
class SparkBuildResult:
    full_refresh: bool
    raw_rows: dict[str, int]
    summary: dict[str, Any]
    validation: Any | None
    warnings: list[str]
    snapshot: publish.Snapshot | None = None


def run_spark_build(
    *,
    through_month: str | None,
    full_refresh: bool,
    validate: bool,
    progress: Progress,
) -> SparkBuildResult:
    """Build the warehouse on Spark (the profile's spark target): the same lock, landing-contract check,
    drift check and dbt build as on DuckDB; the checkpoint and the summary read the marts Spark wrote,
    mirrored into DuckDB. Raises OveragesError with a one-line message.
    """
    from overages import spark

    warnings: list[str] = []
    started = runs.utc_now()
    build_id = started.strftime("%Y%m%dT%H%M%S%f")
    home = spark.spark_home()
    home.mkdir(parents=True, exist_ok=True)
    with runs.build_lock(home):
        progress.step("starting Spark and checking the raw tables against the landing contract")
        landed = spark.check_raw_contract()
        if landed["org_subscriptions"] == 0:
            warnings.append("raw.org_subscriptions is empty: no org can be billed, every usage row is rejected")
        created = spark.create_missing_optional_tables()
        if created:
            progress.step(f"note: no {', '.join(f'raw.{t}' for t in created)} landed: created empty")
        drifted = [] if full_refresh else spark.incremental_drift()
        if drifted:
            full_refresh = True
            warnings.append(f"{', '.join(drifted)} changed in a way an incremental build cannot follow: "
                            "this build is a full refresh")  # fmt: skip
        if not full_refresh:
            expected = runs.incremental_model_columns(PROJECT_DIR / "models")
            full_refresh = _reshaped(runs.reshaped_models(expected, spark.built_columns(list(expected))), warnings)
        progress.step(f"building with dbt on Spark ({'full refresh' if full_refresh else 'incremental'})")
        spark.record_build(build_id, "running", through_month=through_month)
        try:
            dbt_invoke.build(home, through_month=through_month, full_refresh=full_refresh, progress=progress,
                             target="spark")  # fmt: skip
        except BaseException:
            spark.record_build(build_id, "failed", through_month=through_month)
            raise
        progress.step("copying the marts to DuckDB for validation and the summary")
        con = spark.mirror(home / "mirror")
        try:
            report = None
            if validate:
                progress.step("validating the marts with Great Expectations")
                from overages.validation.runner import validate as run_checkpoint

                report = run_checkpoint(con, state_dir())
            snapshot = None
            if report is None or report.success:
                # Readers of a Spark build read the same kind of snapshot as on DuckDB: what passed, in one file.
                progress.step("publishing the snapshot readers open")
                now = runs.utc_now()
                snapshot = publish.publish(con, spark.published_path(), build_id=build_id,
                                           built_at=started, published_at=now,
                                           checkpoint="passed" if validate else "skipped",
                                           through_month=through_month, full_refresh=full_refresh)  # fmt: skip
            spark.record_build(build_id, "success" if snapshot is not None else "validation_failed",
                               through_month=through_month, validated=report is not None)  # fmt: skip
            return SparkBuildResult(full_refresh=full_refresh, raw_rows=landed, summary=summary.collect(con),
                                    validation=report, warnings=warnings, snapshot=snapshot)  # fmt: skip
        finally:
            con.close()


def _already_published(con: Any, path: Path, digest: str, validate: bool) -> str | None:
    """The id of the published build when it was built from exactly these inputs (and checked, if this build
    would be): then there is nothing to run."""
    last = runs.last_published(con)
    info = publish.snapshot_info(path)
    if not last or not info or last["build_id"] != info["build_id"] or last["inputs_digest"] != digest:
        return None
    if validate and info["checkpoint"] != "passed":
        return None
    return str(info["build_id"])


def _reshaped(models: list[str], warnings: list[str]) -> bool:
    """Whether a build must be a full refresh because an incremental model's columns changed (a new version
    of the project); says so in the warnings."""
    if models:
        warnings.append(f"{', '.join(models)} built by another version of the project (its columns differ): "
                        "this build is a full refresh")  # fmt: skip
    return bool(models)


def _finish(path: Path, record: runs.BuildRecord, outcome: str, message: str) -> None:
    """Record a failed build; never hide the original error behind a second one."""
    try:
        con = connect(publish.build_path(path))
        try:
            runs.finish(con, record, outcome, message)
            publish.write_journal(path, runs.recent(con))
        finally:
            con.close()
    except Exception:  # noqa: BLE001 - the build's own error is the one to report
        pass
