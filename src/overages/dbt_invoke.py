"""dbt, invoked in-process on the project, against one warehouse file."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overages.errors import BuildFailed, OveragesError
from overages.progress import Progress
from overages.warehouse import PROJECT_DIR, state_dir

# Statuses of dbt results that mean something went wrong.
_FAILED = {"error", "fail", "runtime error"}
# The first line of a dbt exception's message, which names its kind only.
_KINDS = {"Runtime Error", "Database Error", "Compilation Error", "Parsing Error", "Dependency Error"}


@dataclass
class DbtOutcome:
    success: bool
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    raw_messages: list[str] = field(default_factory=list)


def target_path(warehouse: Path) -> Path:
    """dbt's working folder for one warehouse: builds of different files never share compiled state."""
    digest = hashlib.sha1(str(warehouse).encode()).hexdigest()[:10]
    return state_dir() / "target" / f"{warehouse.stem}-{digest}"


def run_dbt(
    args: list[str],
    warehouse: Path,
    dbt_vars: dict[str, Any] | None = None,
    quiet: bool = False,
    callbacks: list[Callable[[Any], None]] | None = None,
    target_dir: Path | None = None,
    target: str | None = None,
) -> DbtOutcome:
    """Run one dbt command on the project against `warehouse` (for the spark target: its Spark home folder);
    never raises for failed nodes."""
    from dbt.cli.main import dbtRunner

    if target != "spark":
        os.environ["OVERAGES_BUILD_PATH"] = str(warehouse)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    command = [
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--log-path",
        str(state_dir() / "logs"),
        "--target-path",
        str(target_dir or target_path(warehouse)),
    ]
    if target:
        command += ["--target", target]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    if quiet:
        command.insert(0, "--quiet")
    result = dbtRunner(callbacks=callbacks or []).invoke(command)
    if result.exception is not None:
        # dbt's message starts with its kind ('Runtime Error'); the line after it says what went wrong.
        lines = [line.strip() for line in str(result.exception).strip().splitlines() if line.strip()]
        informative = [line for line in lines if line not in _KINDS]
        shown = informative[0] if informative else (lines[0] if lines else type(result.exception).__name__)
        raise OveragesError(f"dbt could not run: {shown}")
    outcome = DbtOutcome(success=bool(result.success))
    for node_result in getattr(result.result, "results", None) or []:
        status = str(node_result.status).lower().split(".")[-1]
        outcome.counts[status] = outcome.counts.get(status, 0) + 1
        if status in _FAILED:
            outcome.raw_messages.append(node_result.message or "")
            name = node_result.node.name
            detail = [
                line.strip()
                for line in (node_result.message or "").splitlines()
                if line.strip() and not line.strip().startswith(("Runtime Error in", "Database Error in"))
            ]
            outcome.failures.append(f"{node_result.node.resource_type} {name}: {detail[0] if detail else status}")
    return outcome


def build(
    warehouse: Path,
    through_month: str | None = None,
    full_refresh: bool = False,
    quiet: bool = False,
    select: list[str] | None = None,
    progress: Progress | None = None,
    target: str | None = None,
    tests_scope: str = "all",
) -> DbtOutcome:
    """Seed, build and test the whole project (unit tests are run by the test suite, not by builds).

    tests_scope 'this_build' lets the tests of the large incremental tables check only the rows this build
    writes (an incremental build after a successful one); 'all' tests every row. A full refresh tests every
    row either way; the value stays the same from build to build so that dbt's partial parsing holds.
    """
    args = ["build", "--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", *select]
    callbacks = [progress.on_dbt_event] if progress else None
    # With a progress display, dbt's own log lines would repeat it: dbt is quiet but for errors.
    outcome = run_dbt(
        args,
        warehouse,
        {"through_month": through_month or "", "tests_scope": tests_scope, **_as_of_var()},
        quiet=quiet or progress is not None,
        callbacks=callbacks,
        target=target,
    )
    if not outcome.success:
        if any("out of sync" in failure for failure in outcome.raw_messages):
            raise BuildFailed("build failed: the warehouse's incremental tables were built by an earlier version of "
                              "the models; rebuild them once with: overages build --full-refresh")  # fmt: skip
        shown = "; ".join(outcome.failures[:3]) or "see logs/dbt.log"
        more = f" (and {len(outcome.failures) - 3} more)" if len(outcome.failures) > 3 else ""
        raise BuildFailed(f"build failed: {shown}{more}")
    return outcome


def _as_of_var() -> dict[str, str]:
    """The var as_of where the build was given one (overages.horizon); without it dbt takes run_started_at, the
    instant it started, and the vars stay the same from build to build so that dbt's partial parsing holds."""
    from overages.horizon import AS_OF_ENV

    given = os.environ.get(AS_OF_ENV, "").strip()
    return {"as_of": given} if given else {}


DOCS_DIR = state_dir() / "target" / "docs"


def docs(warehouse: Path) -> Path:
    """Generate the dbt docs site for the warehouse, reading it read-only; returns the static page."""
    os.environ["WAREHOUSE_DATABASE"] = warehouse.stem
    os.environ["WAREHOUSE_PATH"] = str(warehouse)
    outcome = run_dbt(["docs", "generate", "--static", "--target", "duckdb_read_only"], warehouse, quiet=True,
                      target_dir=DOCS_DIR)  # fmt: skip
    if not outcome.success:
        raise BuildFailed("dbt docs generate failed: see logs/dbt.log")
    return DOCS_DIR / "static_index.html"
