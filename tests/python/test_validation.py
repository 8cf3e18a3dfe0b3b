"""Great Expectations: the suites pass on a clean warehouse, and each fails, for the right reason, on a
copy corrupted in one targeted way."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR, run_cli
from overages.validation.project import ensure_project, write_project
from overages.validation.runner import Finding, ValidationReport, validate


@pytest.fixture(scope="module")
def clean_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("clean") / "clean.duckdb"
    run_cli("demo", "--orgs", "30", "--months", "2", "--seed", "21", warehouse=path)
    done = run_cli("build", warehouse=path)
    return path, done.stdout


def validate_copy(source: Path, tmp_path: Path, *statements: str) -> ValidationReport:
    copy = tmp_path / "corrupted.duckdb"
    shutil.copy(source, copy)
    con = duckdb.connect(str(copy))
    try:
        for statement in statements:
            con.execute(statement)
        return validate(con, tmp_path / "project")
    finally:
        con.close()


def failing(report: ValidationReport) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(f.suite, f.expectation, tuple(f.columns)) for f in report.failures}


def only_failure(report: ValidationReport) -> Finding:
    assert len(report.failures) == 1, [f.describe() for f in report.failures]
    return report.failures[0]


def test_build_runs_the_checkpoint_and_it_passes(clean_warehouse: tuple[Path, str]) -> None:
    _, output = clean_warehouse
    # Two warnings: the published price list's departure, and the demo's deliberate billing differences.
    assert "Great Expectations: 39 expectations in 8 suites, 0 failed, 2 warnings." in output
    assert "Data Docs: " in output


def test_every_expectation_really_ran_on_rows(clean_warehouse: tuple[Path, str], tmp_path: Path) -> None:
    report = validate_copy(clean_warehouse[0], tmp_path)
    assert report.success and len(report.findings) == 39
    assert all(f.error is None for f in report.findings)
    # future_rows validates only the rows from the future, none in a clean demo (test_edges shows it listing them).
    row_level = [f for f in report.findings if f.element_count is not None and f.suite != "future_rows"]
    assert len(row_level) >= 28 and all(f.element_count > 0 for f in row_level)
    assert (tmp_path / "project" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()


def test_published_price_list_inconsistency_is_a_warning_with_its_figures(
    clean_warehouse: tuple[Path, str], tmp_path: Path
) -> None:
    report = validate_copy(clean_warehouse[0], tmp_path)
    (warning,) = [w for w in report.warnings if w.suite == "price_consistency"]
    assert (warning.suite, warning.severity, warning.unexpected_count) == ("price_consistency", "warning", 1)
    (example,) = warning.examples
    assert (example["feature"], example["currency"]) == ("case_management", "BRL")
    assert (str(example["unit_price"]), str(example["ratio_to_usd"]), str(example["rate_implied_by_others"])) == (
        "0.1600",
        "0.4",
        "4",
    )


def test_billing_differences_are_a_warning_with_their_rows(clean_warehouse: tuple[Path, str], tmp_path: Path) -> None:
    report = validate_copy(clean_warehouse[0], tmp_path)
    (warning,) = [w for w in report.warnings if w.suite == "billing_reconciliation"]
    assert (warning.severity, warning.unexpected_count) == ("warning", 5)
    assert {e["status"] for e in warning.examples} <= {"quantity_differs", "rate_differs", "amount_differs",
                                                        "only_in_genesys", "only_here"}  # fmt: skip
    assert len(warning.examples) == 5 and report.success


def test_a_second_departing_price_is_reported_too(clean_warehouse: tuple[Path, str], tmp_path: Path) -> None:
    report = validate_copy(
        clean_warehouse[0],
        tmp_path,
        "update reference.ref_list_prices set unit_price = 0.81 where feature = 'ai_tokens' and currency = 'EUR'",
    )
    assert report.success
    (warning,) = [w for w in report.warnings if w.suite == "price_consistency"]
    assert warning.unexpected_count == 2
    assert {(e["feature"], e["currency"]) for e in warning.examples} == {
        ("case_management", "BRL"),
        ("ai_tokens", "EUR"),
    }


CORRUPTIONS: dict[str, tuple[list[str], Callable[[ValidationReport], None]]] = {}


def corruption(name: str, *statements: str) -> Callable[[Callable[[ValidationReport], None]], None]:
    def register(check: Callable[[ValidationReport], None]) -> None:
        CORRUPTIONS[name] = (list(statements), check)

    return register


@corruption(
    "allocation of 251",
    "update reference.ref_free_allocations set free_quantity = 251 "
    "where license_tier = 'CX3' and license_type = 'named' and feature = 'ai_tokens'",
)
def _(report: ValidationReport) -> None:
    finding = only_failure(report)
    assert (finding.suite, finding.expectation, finding.columns) == (
        "reference_data",
        "expect_column_values_to_be_in_set",
        ["figure"],
    )
    assert "250 AI tokens" in finding.protects
    assert (finding.unexpected_count, finding.element_count) == (1, 7)
    assert finding.examples[0]["license_tier"] == "CX3" and str(finding.examples[0]["figure"]) == "251.0000"


@corruption("price removed", "delete from reference.ref_list_prices where feature = 'wallboard' and currency = 'ZAR'")
def _(report: ValidationReport) -> None:
    finding = only_failure(report)
    assert (finding.suite, finding.expectation, finding.columns) == (
        "reference_data",
        "expect_column_values_to_not_be_null",
        ["figure"],
    )
    assert (finding.unexpected_count, finding.element_count) == (1, 27)
    assert (finding.examples[0]["feature"], finding.examples[0]["currency"]) == ("wallboard", "ZAR")


@corruption(
    "amount off by one cent",
    "create temp table victim as select org_id, billing_month, feature from marts.fct_monthly_overages "
    "where billed_quantity > 0 and billing_currency <> 'JPY' order by all limit 1",
    "update marts.fct_monthly_overages as m set overage_amount = overage_amount + 0.01 from victim as v "
    "where m.org_id = v.org_id and m.billing_month = v.billing_month and m.feature = v.feature",
    "update marts.fct_invoice_lines as m set amount = amount + 0.01 from victim as v "
    "where m.org_id = v.org_id and m.billing_month = v.billing_month and m.feature = v.feature",
)
def _(report: ValidationReport) -> None:
    finding = only_failure(report)
    assert (finding.suite, finding.expectation, finding.columns) == (
        "monthly_overages",
        "expect_column_pair_values_to_be_equal",
        ["overage_amount", "expected_overage_amount"],
    )
    assert "rule 8" in finding.protects and finding.unexpected_count == 1
    example = finding.examples[0]
    assert example["overage_amount"] - example["expected_overage_amount"] == Decimal("0.01")


@corruption(
    "rejected row deleted",
    "delete from audit.rejected_rows where rowid = (select min(rowid) from "
    "audit.rejected_rows where source_table = 'cases')",
)
def _(report: ValidationReport) -> None:
    finding = only_failure(report)
    assert (finding.suite, finding.expectation, finding.columns) == (
        "nothing_lost",
        "expect_column_pair_values_to_be_equal",
        ["rows_landed", "rows_accounted"],
    )
    assert "rule 10" in finding.protects and finding.unexpected_count == 1
    assert finding.examples[0]["source_table"] == "cases"
    assert finding.examples[0]["rows_landed"] - finding.examples[0]["rows_accounted"] == 1


@corruption(
    "invoice line dropped",
    "delete from marts.fct_invoice_lines where rowid = (select min(rowid) from "
    "marts.fct_invoice_lines where amount > 0)",
)
def _(report: ValidationReport) -> None:
    assert failing(report) == {
        ("invoice_lines", "expect_column_pair_values_to_be_equal", ("invoice_amount", "overage_amount")),
        ("invoice_lines", "expect_column_pair_values_to_be_equal", ("invoice_lines", "billed_rows")),
    }
    assert all(f.unexpected_count == 1 for f in report.failures)


@corruption(
    "unknown rejection reason",
    "update audit.rejected_rows set reason = 'gremlins' where rowid = (select min(rowid) from audit.rejected_rows)",
)
def _(report: ValidationReport) -> None:
    finding = only_failure(report)
    assert (finding.suite, finding.columns) == ("nothing_lost", ["reason"])
    assert finding.examples[0]["reason"] == "gremlins"


@corruption("a mart column gone", "alter table marts.fct_monthly_overages drop column list_amount_usd")
def _(report: ValidationReport) -> None:
    """An expectation that cannot run is a failure with its error, never a silent pass."""
    broken = [f for f in report.failures if f.error]
    assert broken and all(f.suite == "monthly_overages" for f in broken)
    assert any("list_amount_usd" in (f.error or "") or "list_amount_usd" in f.columns for f in broken)


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruption_is_caught_by_the_right_expectation(
    name: str, clean_warehouse: tuple[Path, str], tmp_path: Path
) -> None:
    statements, check = CORRUPTIONS[name]
    report = validate_copy(clean_warehouse[0], tmp_path, *statements)
    assert not report.success
    check(report)


def test_validate_command_exits_non_zero_and_names_the_failure(
    clean_warehouse: tuple[Path, str], tmp_path: Path
) -> None:
    copy = tmp_path / "w.duckdb"
    shutil.copy(clean_warehouse[0], copy)
    con = duckdb.connect(str(copy))
    con.execute(
        "update marts.fct_monthly_overages set overage_quantity = overage_quantity + 1 "
        "where rowid = (select min(rowid) from marts.fct_monthly_overages)"
    )
    con.close()
    done = run_cli("validate", "--warehouse", str(copy), check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "FAILED monthly_overages: expect_column_pair_values_to_be_equal(overage_quantity, "
        "expected_overage_quantity) failed on 1 of" in done.stdout
    )
    assert done.stderr.startswith("error: validation failed: monthly_overages")
    assert "Traceback" not in done.stderr


def test_validate_on_an_unbuilt_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "raw-only.duckdb"
    run_cli("demo", "--orgs", "3", "--months", "1", warehouse=path)
    done = run_cli("validate", "--warehouse", str(path), check=False)
    assert done.returncode != 0 and "build it first" in done.stderr and "Traceback" not in done.stderr


def test_gx_project_in_git_is_what_the_code_writes(tmp_path: Path) -> None:
    write_project(tmp_path)
    written = {
        p.relative_to(tmp_path / "gx"): p.read_text()
        for p in (tmp_path / "gx").rglob("*")
        if p.is_file() and "uncommitted" not in p.parts
    }
    committed = {
        p.relative_to(PROJECT_DIR / "gx"): p.read_text()
        for p in (PROJECT_DIR / "gx").rglob("*")
        if p.is_file() and "uncommitted" not in p.parts
    }
    assert written.keys() == committed.keys()
    for name, text in written.items():
        assert committed[name] == text, f"gx/{name} differs from what the code writes: run `overages gx-config`"


def test_old_validation_results_are_pruned(tmp_path: Path) -> None:
    from overages.validation.runner import prune_results

    runs = tmp_path / "monthly_overages" / "__none__"
    for i in range(25):
        (runs / f"20261126T0000{i:02d}.000000Z").mkdir(parents=True)
    prune_results(tmp_path, keep=20)
    kept = sorted(p.name for p in runs.iterdir())
    assert len(kept) == 19 and kept[0] == "20261126T000006.000000Z" and kept[-1] == "20261126T000024.000000Z"


def test_the_gx_project_is_written_again_only_when_it_differs_from_the_code(tmp_path: Path) -> None:
    ensure_project(tmp_path)
    suite = tmp_path / "gx" / "expectations" / "monthly_overages.json"
    written = suite.read_text()
    checkpoint = tmp_path / "gx" / "checkpoints" / "overages.json"
    os.utime(checkpoint, (1_000_000_000, 1_000_000_000))
    ensure_project(tmp_path)  # the same code, the same files: nothing is written
    assert checkpoint.stat().st_mtime == 1_000_000_000
    # A file edited by hand is put back as the code says.
    suite.write_text(written.replace("rule 6", "rule six"))
    ensure_project(tmp_path)
    assert suite.read_text() == written
    assert checkpoint.stat().st_mtime != 1_000_000_000
