"""dbt, invoked in-process on the project, against one warehouse file."""

from __future__ import annotations

import hashlib
import json
import os
import pprint
import shutil
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
    # Seconds each node ran (dbt's execution_time), by unique id: builds write no run_results.json.
    node_seconds: dict[str, float] = field(default_factory=dict)

    def slowest(self, count: int = 8) -> dict[str, Any]:
        """The nodes that ran longest, and all nodes' total (node times: `threads` of them run at once)."""
        ranked = sorted(self.node_seconds.items(), key=lambda item: item[1], reverse=True)[:count]
        return {"nodes": len(self.node_seconds), "node_seconds": round(sum(self.node_seconds.values()), 2),
                "slowest": [{"node": node, "seconds": round(seconds, 2)} for node, seconds in ranked]}  # fmt: skip


def target_path(warehouse: Path) -> Path:
    """dbt's working folder for one warehouse and project folder: builds of different files (or of another copy of
    the project) never share compiled state."""
    digest = hashlib.sha1(f"{warehouse}\0{PROJECT_DIR.resolve()}".encode()).hexdigest()[:10]
    return state_dir() / "target" / f"{warehouse.stem}-{digest}"


# dbt's parse of the project (target/<warehouse>/partial_parse.msgpack), kept per warehouse file name so that the
# first build of a new warehouse file parses only what changed since any build of a file of that name (of this
# project folder).
PARSE_FILE = "partial_parse.msgpack"
# Which rows the generic tests of the large incremental tables check in this build: 'all' or 'this_build'.
TESTS_SCOPE_ENV = "OVERAGES_TESTS_SCOPE"


def _parse_cache(warehouse: Path) -> Path:
    """Kept per project folder too: a parse holds the folder its seeds and files are read from."""
    project = hashlib.sha1(str(PROJECT_DIR.resolve()).encode()).hexdigest()[:10]
    return state_dir() / "target" / ".parse" / f"{warehouse.name}-{project}.msgpack"


def _same_parse_for_any_folder() -> None:
    """dbt rejects a saved parse when the profile's connection settings differ, the path of the DuckDB file
    included; the parse itself depends on the file's name only (the database every relation is named in), so
    the folder is left out of that comparison. Everything else dbt compares (the project's files, vars,
    target, settings, dbt's version) still decides."""
    from dbt.contracts.files import FileHash
    from dbt.parser.manifest import ManifestLoader

    if getattr(ManifestLoader, "_overages_folder_free", False):
        return
    original = ManifestLoader.build_manifest_state_check

    def build_manifest_state_check(self):  # type: ignore[no-untyped-def]
        check = original(self)
        credentials = self.root_project.credentials
        if getattr(credentials, "type", None) == "duckdb":
            keys = []
            for key, value in credentials.connection_info():
                if key == "path" and isinstance(value, str) and value != ":memory:":
                    value = os.path.basename(value)
                keys.append((key, value))
            keys.sort()
            check.profile_hash = FileHash.from_contents(pprint.pformat(keys))
        return check

    ManifestLoader.build_manifest_state_check = build_manifest_state_check
    ManifestLoader._overages_folder_free = True


def _reuse_parse(warehouse: Path) -> None:
    """Start a warehouse's first dbt run from the parse last kept for a file of its name (when there is one)."""
    _same_parse_for_any_folder()
    own = target_path(warehouse) / PARSE_FILE
    kept = _parse_cache(warehouse)
    if own.exists() or not kept.exists():
        return
    own.parent.mkdir(parents=True, exist_ok=True)
    staging = own.with_name(f".{PARSE_FILE}.{os.getpid()}")
    try:
        shutil.copyfile(kept, staging)
        os.replace(staging, own)
    except OSError:
        staging.unlink(missing_ok=True)  # a parse from scratch is slower, never wrong


def _keep_parse(warehouse: Path) -> None:
    own = target_path(warehouse) / PARSE_FILE
    if not own.exists():
        return
    kept = _parse_cache(warehouse)
    staging = kept.with_name(f".{kept.name}.{os.getpid()}")
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(own, staging)
        os.replace(staging, kept)
    except OSError:
        staging.unlink(missing_ok=True)


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
        outcome.node_seconds[node_result.node.unique_id] = float(getattr(node_result, "execution_time", 0) or 0)
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
    writes (an incremental build after a successful one); 'all' tests every row; a full refresh tests every
    row either way. The scope reaches the tests as TESTS_SCOPE_ENV (macros/incremental.sql), and --as-of the
    models as OVERAGES_AS_OF (macros/months.sql), both read only while they run: as vars, values that change
    from build to build would make dbt parse the whole project again. A new warehouse file starts from the
    parse of the last one of its name (`_reuse_parse`); a build writes no JSON artifacts (target/<warehouse>/
    keeps the compiled SQL and dbt's parse).
    """
    args = ["build", "--exclude-resource-type", "unit_test", "--no-write-json"]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", *select]
    callbacks = [progress.on_dbt_event] if progress else None
    shares_parse = target is None
    if shares_parse:
        _reuse_parse(warehouse)
    os.environ[TESTS_SCOPE_ENV] = tests_scope
    try:
        # With a progress display, dbt's own log lines would repeat it: dbt is quiet but for errors.
        outcome = run_dbt(
            args,
            warehouse,
            {"through_month": through_month or ""},
            quiet=quiet or progress is not None,
            callbacks=callbacks,
            target=target,
        )
    finally:
        os.environ.pop(TESTS_SCOPE_ENV, None)
    if shares_parse:
        _keep_parse(warehouse)
    if not outcome.success:
        if any("out of sync" in failure for failure in outcome.raw_messages):
            raise BuildFailed("build failed: the warehouse's incremental tables were built by an earlier version of "
                              "the models; rebuild them once with: overages build --full-refresh")  # fmt: skip
        shown = "; ".join(outcome.failures[:3]) or "see logs/dbt.log"
        more = f" (and {len(outcome.failures) - 3} more)" if len(outcome.failures) > 3 else ""
        raise BuildFailed(f"build failed: {shown}{more}")
    return outcome


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
