"""Files for tools that read files: the marts and the FOCUS view as parquet or CSV."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb

from overages import money

EXPORTED = {
    "fct_monthly_overages": "marts.fct_monthly_overages",
    "fct_invoices": "marts.fct_invoices",
    "fct_invoice_lines": "marts.fct_invoice_lines",
    "focus_charges": "marts.focus_charges",
    "dim_orgs": "marts.dim_orgs",
    "dim_org_months": "marts.dim_org_months",
    "fct_month_to_date_projections": "marts.fct_month_to_date_projections",
    "rejected_rows": "audit.rejected_rows",
    "invoice_reconciliation": "audit.invoice_reconciliation",
}
# The month column of each relation that has one (for --month).
_MONTH_COLUMN = {
    "fct_monthly_overages": "billing_month",
    "fct_invoices": "billing_month",
    "invoice_reconciliation": "billing_month",
    "fct_invoice_lines": "billing_month",
    "focus_charges": "BillingPeriodStart",
    "dim_org_months": "billing_month",
    "fct_month_to_date_projections": "billing_month",
}
# In a month's export, dim_orgs holds the orgs with a row that month.
_ORGS_OF_MONTH = "org_id in (select org_id from marts.fct_monthly_overages where billing_month = date '{month}')"
# In CSV, amounts are written in their currency's minor units: relation -> {amount column: its currency column}.
_AMOUNTS = {
    "fct_monthly_overages": {"overage_amount": "billing_currency", "list_amount_usd": "'USD'"},
    "fct_invoices": {c: "currency" for c in ("wallboard_amount", "ai_tokens_amount", "case_management_amount",
                                             "adjustment_amount", "total_amount")},
    "fct_invoice_lines": {"amount": "currency"},
    "focus_charges": {c: "BillingCurrency" for c in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")},
    "fct_month_to_date_projections": {"projected_overage_amount": "billing_currency"},
    "invoice_reconciliation": {c: "currency" for c in ("computed_amount", "issued_amount", "adjusted_amount",
                                                       "pending_amount", "unreconciled_amount")},
}  # fmt: skip
# ... and quantities of counted features as whole numbers: relation -> (feature column, quantity columns).
_QUANTITIES = {
    "fct_monthly_overages": ("feature", ("usage_quantity", "free_allocation", "overage_quantity",
                                         "committed_quantity", "billed_quantity")),
    "fct_invoice_lines": ("feature", ("usage_quantity", "free_allocation", "quantity")),
    "fct_month_to_date_projections": ("feature", ("usage_so_far", "free_allocation", "overage_so_far",
                                                  "projected_usage", "projected_overage", "projected_billed_quantity",
                                                  "committed_quantity")),
}  # fmt: skip
# A cell a spreadsheet would run as a formula starts with one of = + - @ tab or carriage return (OWASP's
# CSV injection list; RE2 reads the \t and \r): it gets a leading apostrophe, as spreadsheets expect.
FORMULA_PATTERN = r"^[-=+@\t\r]"
QUOTE_LITERAL = "chr(39)"


def _fixed(column: str, places: int) -> str:
    return f"cast(cast({column} as decimal(18, {places})) as varchar)"


def _in_minor_units(column: str, currency: str, units: dict[str, int]) -> str:
    """An amount as text with its currency's minor units (2 for a currency the reference data lacks)."""
    by_places: dict[int, list[str]] = {}
    for code, places in units.items():
        by_places.setdefault(places, []).append(code)
    branches = " ".join(
        f"when {currency} in ({', '.join(repr(c) for c in sorted(codes))}) then {_fixed(column, places)}"
        for places, codes in sorted(by_places.items())
        if places != money.DEFAULT_MINOR_UNITS
    )
    return f"case {branches} else {_fixed(column, money.DEFAULT_MINOR_UNITS)} end" if branches else \
        _fixed(column, money.DEFAULT_MINOR_UNITS)  # fmt: skip


def _csv_select(con: duckdb.DuckDBPyConnection, name: str, relation: str) -> str:
    """A select list for CSV: text that a spreadsheet would run as a formula gets a leading quote; amounts in
    their currency's minor units; counted quantities whole."""
    units = money.minor_units(con)
    counted = sorted(money.counted_features(con))
    amounts = _AMOUNTS.get(name, {})
    feature_column, quantities = _QUANTITIES.get(name, ("", ()))
    parts = []
    for column_name, data_type, *_ in con.execute(f"describe select * from {relation}").fetchall():
        quoted = f'"{column_name}"'
        if column_name in amounts:
            parts.append(f"{_in_minor_units(quoted, amounts[column_name], units)} as {quoted}")
        elif column_name in quantities and counted:
            listed = ", ".join(repr(f) for f in counted)
            parts.append(f"case when {feature_column} in ({listed}) then {_fixed(quoted, 0)} "
                         f"else cast({quoted} as varchar) end as {quoted}")  # fmt: skip
        elif data_type.upper().startswith("VARCHAR"):
            prefixed = f"{QUOTE_LITERAL} || {quoted}"
            parts.append(f"case when regexp_matches({quoted}, '{FORMULA_PATTERN}') then {prefixed} "
                         f"else {quoted} end as {quoted}")  # fmt: skip
        else:
            parts.append(quoted)
    return ", ".join(parts)


def export(con: duckdb.DuckDBPyConnection, folder: Path, file_format: str, month: date | None) -> dict[str, int]:
    """Write each exported relation to `folder`; returns rows written per file name.

    CSV files are UTF-8 with a byte-order mark, so that spreadsheets read non-ASCII names as written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, relation in EXPORTED.items():
        if month is not None and name not in _MONTH_COLUMN and name != "dim_orgs":
            continue
        where = ""
        if month is not None:
            condition = (_ORGS_OF_MONTH.format(month=month.isoformat()) if name == "dim_orgs"
                         else f"cast({_MONTH_COLUMN[name]} as date) = date '{month.isoformat()}'")  # fmt: skip
            where = f" where {condition}"
        select_list = _csv_select(con, name, relation) if file_format == "csv" else "*"
        query = f"select {select_list} from {relation}{where}"
        target = folder / f"{name}.{file_format}"
        if file_format == "parquet":
            con.execute(f"copy ({query}) to '{target}' (format parquet)")
        else:
            _write_csv_with_bom(con, query, target)
        written[target.name] = con.execute(f"select count(*) from ({query})").fetchall()[0][0]
    return written


def _write_csv_with_bom(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """DuckDB writes the CSV; the byte-order mark goes in front of it, streamed (the file may be large)."""
    plain = target.with_name(target.name + ".part")
    try:
        con.execute(f"copy ({query}) to '{plain}' (format csv, header true)")
        with target.open("wb") as out, plain.open("rb") as written:
            out.write("\ufeff".encode())
            shutil.copyfileobj(written, out, 1 << 20)
    finally:
        plain.unlink(missing_ok=True)
