"""A build, end to end: lock, check the landing contract, record, run dbt, validate, report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overages import dbt_invoke, runs, summary
from overages.errors import OveragesError
from overages.progress import Progress
from overages.warehouse import PROJECT_DIR, check_raw_contract, connect


@dataclass
class BuildResult:
    record: runs.BuildRecord
    summary: dict[str, Any]
    validation: Any | None  # overages.validation.runner.ValidationReport
    warnings: list[str]


def run_build(
    path: Path,
    *,
    through_month: str | None,
    full_refresh: bool,
    validate: bool,
    progress: Progress,
) -> BuildResult:
    """Build the warehouse at `path`; raises OveragesError (or a subclass) with a one-line message."""
    warnings: list[str] = []
    if not path.exists():
        check_raw_contract(path)  # raises the one-line error for a missing file
    with runs.build_lock(path):
        progress.step("checking the raw tables against the landing contract")
        landed = check_raw_contract(path)
        if landed["org_subscriptions"] == 0:
            warnings.append("raw.org_subscriptions is empty: no org can be billed, every usage row is rejected")
        con = connect(path)
        try:
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
            record = runs.start(con, through_month, full_refresh)
            priced_before = runs.pricing_digest(con)
        finally:
            con.close()
        progress.step(f"building with dbt ({'full refresh' if full_refresh else 'incremental'})")
        try:
            dbt_invoke.build(path, through_month=through_month, full_refresh=full_refresh, progress=progress,
                             tests_scope="all" if test_every_row else "this_build")  # fmt: skip
        except OveragesError as error:
            _finish(path, record, "failed", str(error))
            raise
        except BaseException:
            _finish(path, record, "failed", "interrupted")
            raise
        con = connect(path)
        try:
            report = None
            outcome, message = "success", None
            if validate:
                progress.step("validating the marts with Great Expectations")
                from overages.validation.runner import validate as run_checkpoint

                report = run_checkpoint(con, PROJECT_DIR)
                if not report.success:
                    outcome = "validation_failed"
                    first = report.failures[0]
                    more = f" (and {len(report.failures) - 1} more)" if len(report.failures) > 1 else ""
                    message = f"validation failed: {first.describe()}{more}"
            runs.record_reference_changes(con, record, priced_before, PROJECT_DIR / "seeds")
            runs.finish(con, record, outcome, message, validated=report is not None)
            return BuildResult(record=record, summary=summary.collect(con), validation=report, warnings=warnings)
        finally:
            con.close()


@dataclass
class SparkBuildResult:
    full_refresh: bool
    raw_rows: dict[str, int]
    summary: dict[str, Any]
    validation: Any | None
    warnings: list[str]


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
    home = spark.spark_home()
    home.mkdir(parents=True, exist_ok=True)
    with runs.build_lock(home):
        progress.step("starting Spark and checking the raw tables against the landing contract")
        landed = spark.check_raw_contract()
        if landed["org_subscriptions"] == 0:
            warnings.append("raw.org_subscriptions is empty: no org can be billed, every usage row is rejected")
        drifted = [] if full_refresh else spark.incremental_drift()
        if drifted:
            full_refresh = True
            warnings.append(f"{', '.join(drifted)} changed in a way an incremental build cannot follow: "
                            "this build is a full refresh")  # fmt: skip
        if not full_refresh:
            expected = runs.incremental_model_columns(PROJECT_DIR / "models")
            full_refresh = _reshaped(runs.reshaped_models(expected, spark.built_columns(list(expected))), warnings)
        progress.step(f"building with dbt on Spark ({'full refresh' if full_refresh else 'incremental'})")
        dbt_invoke.build(home, through_month=through_month, full_refresh=full_refresh, progress=progress,
                         target="spark")  # fmt: skip
        progress.step("copying the marts to DuckDB for validation and the summary")
        con = spark.mirror(home / "mirror")
        try:
            report = None
            if validate:
                progress.step("validating the marts with Great Expectations")
                from overages.validation.runner import validate as run_checkpoint

                report = run_checkpoint(con, PROJECT_DIR)
            return SparkBuildResult(full_refresh=full_refresh, raw_rows=landed, summary=summary.collect(con),
                                    validation=report, warnings=warnings)  # fmt: skip
        finally:
            con.close()


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
        con = connect(path)
        try:
            runs.finish(con, record, outcome, message)
        finally:
            con.close()
    except Exception:  # noqa: BLE001 - the build's own error is the one to report
        pass
