"""Exports for tools that read files: the marts and the FOCUS view, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import land_raw, query, run_cli

HOSTILE_NAME = '=HYPERLINK("x")'
SCRIPT_NAME = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "w.duckdb"
    land_raw(path, {
        "org_subscriptions": [
            ("org-a", HOSTILE_NAME, "CX1", "named", "EUR", "2026-09-01 00:00:00", "2026-09-01 01:00:00"),
            ("+org-b", SCRIPT_NAME, "CX2", "concurrent", "USD", "2026-09-01 00:00:00", "2026-09-01 01:00:00"),
        ],
        "cases": [(f"case-{i}", "org-a", f"2026-09-{1 + i % 28:02d} 10:00:00", "2026-10-01 00:00:00")
                  for i in range(160)],
        "contract_rates": [("+org-b", "ai_tokens", "USD", 0.5, 100, "2026-10-01", None, "2026-09-01 00:00:00")],
        "ai_token_events": [("ev-1", "+org-b", "2026-10-02 00:00:00", 20, "copilot", "2026-10-03 00:00:00")],
    })  # fmt: skip
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark, for spreadsheets
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_focus_charges_map_the_invoice_lines(built: Path) -> None:
    rows = query(built, "select BillingAccountId, ServiceName, SkuId, BilledCost, ListCost, ListUnitPrice, "
                        "ContractedUnitPrice, PricingQuantity, ConsumedQuantity, PricingCategory, BillingCurrency, "
                        "cast(ChargePeriodStart as varchar), cast(ChargePeriodEnd as varchar) "
                        "from marts.focus_charges order by all")  # fmt: skip
    assert rows == [
        # Committed tier: 100 tokens at 0.50 though 20 were used (350 are free on Concurrent: overage 0).
        ("+org-b", "AI tokens", None, Decimal("50.0000"), Decimal("100.0000"), Decimal("1.0000"),
         Decimal("0.5000"), Decimal("100.0000"), Decimal("0.0000"), "Committed", "USD",
         "2026-10-01 00:00:00", "2026-11-01 00:00:00"),
        # 10 cases over 150 at the EUR list price 0.32.
        ("org-a", "Case Management", "GC-170-NV-CASEMGMT", Decimal("3.2000"), Decimal("3.2000"), Decimal("0.3200"),
         Decimal("0.3200"), Decimal("10.0000"), Decimal("10.0000"), "Standard", "EUR",
         "2026-09-01 00:00:00", "2026-10-01 00:00:00"),
    ]  # fmt: skip


def test_csv_neutralises_formulas_and_parquet_keeps_values(built: Path, tmp_path: Path) -> None:
    before = built.stat().st_mtime_ns
    run_cli("export", "--format", "csv", str(tmp_path / "csv"), warehouse=built)
    run_cli("export", "--format", "parquet", str(tmp_path / "parquet"), warehouse=built)
    assert built.stat().st_mtime_ns == before  # read-only: the warehouse file is untouched
    orgs = {r["org_id"]: r for r in read_csv(tmp_path / "csv" / "dim_orgs.csv")}
    assert set(orgs) == {"org-a", "'+org-b"}
    assert orgs["org-a"]["org_name"] == "'" + HOSTILE_NAME
    assert orgs["'+org-b"]["org_name"] == SCRIPT_NAME  # not a formula: left as it is
    focus = read_csv(tmp_path / "csv" / "focus_charges.csv")
    assert {r["BillingAccountId"] for r in focus} == {"org-a", "'+org-b"}
    assert {r["BilledCost"] for r in focus} == {"3.20", "50.00"}  # in minor units, never prefixed
    con = duckdb.connect()
    names = con.execute(f"select org_name from '{tmp_path / 'parquet' / 'dim_orgs.parquet'}' order by 1").fetchall()
    assert names == [(SCRIPT_NAME,), (HOSTILE_NAME,)]
    expected_files = {"fct_monthly_overages", "fct_invoices", "fct_invoice_lines", "focus_charges", "dim_orgs",
                      "dim_org_months", "fct_month_to_date_projections", "rejected_rows",
                      "invoice_reconciliation"}  # fmt: skip
    assert {p.stem for p in (tmp_path / "parquet").iterdir()} == expected_files


def test_export_of_one_month(built: Path, tmp_path: Path) -> None:
    done = run_cli("export", "--format", "csv", "--month", "2026-10", str(tmp_path), warehouse=built)
    assert "focus_charges.csv  1 rows" in done.stdout
    lines = read_csv(tmp_path / "fct_invoice_lines.csv")
    assert [(r["org_id"], r["billing_month"]) for r in lines] == [("'+org-b", "2026-10-01")]
    # The month's orgs (with their names) and invoices come with it.
    assert {r["org_id"] for r in read_csv(tmp_path / "dim_orgs.csv")} == {"org-a", "'+org-b"}
    invoices = read_csv(tmp_path / "fct_invoices.csv")
    assert [(r["org_id"], r["org_name"], r["total_amount"], r["status"]) for r in invoices] == [
        ("'+org-b", SCRIPT_NAME, "50.00", "draft")
    ]
    assert not (tmp_path / "rejected_rows.csv").exists()  # not a monthly relation


def test_csv_amounts_in_minor_units_and_counts_whole(built: Path, tmp_path: Path) -> None:
    run_cli("export", "--format", "csv", str(tmp_path), warehouse=built)
    rows = {(r["org_id"], r["billing_month"], r["feature"]): r for r in read_csv(tmp_path / "fct_monthly_overages.csv")}
    cases = rows[("org-a", "2026-09-01", "case_management")]
    assert (cases["usage_quantity"], cases["free_allocation"], cases["billed_quantity"]) == ("160", "150", "10")
    assert (cases["overage_amount"], cases["list_amount_usd"]) == ("3.20", "4.00")
    tokens = rows[("'+org-b", "2026-10-01", "ai_tokens")]
    assert (tokens["usage_quantity"], tokens["overage_amount"]) == ("20.0000", "50.00")  # tokens may be fractional


def test_export_needs_a_built_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "raw-only.duckdb"
    land_raw(path, {})
    done = run_cli("export", str(tmp_path / "out"), warehouse=path, check=False)
    assert done.returncode != 0 and "build it first" in done.stderr and "Traceback" not in done.stderr
