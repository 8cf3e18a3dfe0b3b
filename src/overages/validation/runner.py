"""Run the checkpoint on a warehouse and say, for people, what failed."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from overages.validation.frames import export
from overages.validation.offline_docs import make_offline
from overages.validation.project import CHECKPOINT, DATA_DOCS_INDEX, FRAMES_FOLDER, ensure_project
from overages.validation.suites import SUITES

# Columns that say which row an example is, in the order they are shown.
_IDENTIFYING = ["kind", "source_table", "reason", "org_id", "billing_month", "feature", "license_tier",
                "license_type", "currency", "billing_currency"]  # fmt: skip
# Figures shown beside a failing row, per suite, so that a report explains itself.
_DETAILS = {
    "price_consistency": ["unit_price", "usd_unit_price", "ratio_to_usd", "rate_implied_by_others"],
    "usage_conserved": ["accepted_usage", "billed_usage"],
    "future_rows": ["record_id", "row_at"],
    "billing_reconciliation": ["quantity_difference", "rate_difference", "charge_difference", "invoiced_difference"],
}


@dataclass
class Finding:
    suite: str
    expectation: str
    columns: list[str]
    severity: str
    success: bool
    protects: str
    unexpected_count: int | None = None
    element_count: int | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def is_failure(self) -> bool:
        return not self.success and self.severity == "critical"

    def describe(self) -> str:
        where = f"({', '.join(self.columns)})" if self.columns else ""
        if self.error:
            return f"{self.suite}: {self.expectation}{where} could not run: {self.error}"
        count = ""
        if self.unexpected_count is not None:
            count = f" on {self.unexpected_count} of {self.element_count} rows"
        return f"{self.suite}: {self.expectation}{where} failed{count} [{self.protects}]"


@dataclass
class ValidationReport:
    findings: list[Finding]
    data_docs: Path

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.is_failure]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.success and not f.is_failure]

    @property
    def success(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "expectations": len(self.findings),
            "failures": [f.describe() for f in self.failures],
            "warnings": [f.describe() for f in self.warnings],
            "data_docs": str(self.data_docs),
        }

    def render(self, examples: int = 3) -> str:
        lines = [
            f"Great Expectations: {len(self.findings)} expectations in {len(SUITES)} suites, "
            f"{len(self.failures)} failed, {len(self.warnings)} warnings."
        ]
        for label, findings in (("FAILED", self.failures), ("WARNING", self.warnings)):
            for finding in findings:
                lines.append(f"  {label} {finding.describe()}")
                for example in finding.examples[:examples]:
                    lines.append("      " + ", ".join(f"{k}={_show(v)}" for k, v in example.items()))
        lines.append(f"Data Docs: {self.data_docs}")
        return "\n".join(lines)


def _show(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if getattr(value, "hour", 0) == 0 else value.isoformat()
    return str(value)


def _columns(kwargs: dict[str, Any]) -> list[str]:
    found = [kwargs[key] for key in ("column", "column_A", "column_B") if kwargs.get(key)]
    return found + list(kwargs.get("column_list") or [])


def _examples(table: pa.Table | pd.DataFrame, indices: list[Any], columns: list[str]) -> list[dict[str, Any]]:
    """The failing rows (GX's row numbers in the parquet it read, which are the frame's) as queried: decimals."""
    names = list(table.columns) if isinstance(table, pd.DataFrame) else table.column_names
    shown = [c for c in _IDENTIFYING if c in names and c not in columns] + columns
    rows = [int(index) for index in indices if isinstance(index, Integral) and 0 <= index < len(table)]
    if not rows:
        return []
    picked = (table.iloc[rows][[c for c in shown if c in names]].to_dict("records") if isinstance(table, pd.DataFrame)
              else table.select([c for c in shown if c in names]).take(rows).to_pylist())  # fmt: skip
    return [{c: row[c] for c in shown if c in row and not _missing(row[c])} for row in picked]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


# Validation results kept per suite (the Data Docs site lists them all and is rebuilt on every run).
KEPT_RESULTS = 20


def prune_results(validations: Path, keep: int = KEPT_RESULTS) -> None:
    """Keep the newest `keep` - 1 results of each suite, so that the run about to be stored makes `keep`."""
    for runs in validations.glob("*/*"):
        if not runs.is_dir():
            continue
        stamps = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.name)
        for old in stamps[: max(0, len(stamps) - (keep - 1))]:
            shutil.rmtree(old)


def validate(con: duckdb.DuckDBPyConnection, root: Path) -> ValidationReport:
    """Export the frames from the warehouse, run the checkpoint, and collect every expectation's outcome."""
    prune_results(root / "gx" / "uncommitted" / "validations")
    frames = export(con, root / FRAMES_FOLDER)
    ensure_project(root)
    import great_expectations as gx

    with contextlib.chdir(root):
        context = gx.get_context(mode="file", project_root_dir=str(root))
        result = context.checkpoints.get(CHECKPOINT).run()
        # The Data Docs of this run, built once: each result's page, its suite's page, and the index.
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        pages = [page for identifier, run in result.run_results.items()
                 for page in (identifier, ExpectationSuiteIdentifier(name=run.suite_name))]  # fmt: skip
        context.build_data_docs(resource_identifiers=pages, build_index=True)
    make_offline(root / DATA_DOCS_INDEX.parent)
    frame_of_suite = {name: frame for name, (frame, _, _) in SUITES.items()}
    findings = []
    for run in result.run_results.values():
        suite = run.suite_name
        frame = frames[frame_of_suite[suite]]
        for outcome in run.results:
            config = outcome.expectation_config
            kwargs = dict(config.kwargs)
            columns = _columns(kwargs)
            exception = outcome.exception_info or {}
            raised = exception.get("raised_exception") or any(
                isinstance(v, dict) and v.get("raised_exception") for v in exception.values()
            )
            message = exception.get("exception_message") or next(
                (v.get("exception_message") for v in exception.values()
                 if isinstance(v, dict) and v.get("exception_message")), None)  # fmt: skip
            details = outcome.result or {}
            findings.append(Finding(
                suite=suite,
                expectation=config.type,
                columns=columns,
                severity=str(getattr(config.severity, "value", config.severity)).lower(),
                success=bool(outcome.success) and not raised,
                protects=(config.meta or {}).get("protects", ""),
                unexpected_count=details.get("unexpected_count"),
                element_count=details.get("element_count"),
                examples=_examples(frame, list(details.get("unexpected_index_list") or [])[:5],
                                   columns + _DETAILS.get(suite, [])),
                error=str(message).splitlines()[0] if raised and message else None,
            ))  # fmt: skip
    return ValidationReport(findings=findings, data_docs=root / DATA_DOCS_INDEX)
