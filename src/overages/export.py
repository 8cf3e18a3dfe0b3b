"""Files for tools that read files: the marts and the FOCUS view as parquet or CSV."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

EXPORTED = {
    "fct_monthly_overages": "marts.fct_monthly_overages",
    "fct_invoice_lines": "marts.fct_invoice_lines",
    "focus_charges": "marts.focus_charges",
    "dim_orgs": "marts.dim_orgs",
    "dim_org_months": "marts.dim_org_months",
    "fct_month_to_date_projections": "marts.fct_month_to_date_projections",
    "rejected_rows": "audit.rejected_rows",
}
# The month column of each relation that has one (for --month).
_MONTH_COLUMN = {
    "fct_monthly_overages": "billing_month",
    "fct_invoice_lines": "billing_month",
    "focus_charges": "BillingPeriodStart",
    "dim_org_months": "billing_month",
    "fct_month_to_date_projections": "billing_month",
}
# A cell a spreadsheet would run as a formula starts with one of = + - @ tab or carriage return (OWASP's
# CSV injection list; RE2 reads the \t and \r): it gets a leading apostrophe, as spreadsheets expect.
FORMULA_PATTERN = r"^[-=+@\t\r]"
QUOTE_LITERAL = "chr(39)"


def _neutralised(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """A select list where every text cell that a spreadsheet would run as a formula gets a leading quote."""
    parts = []
    for name, data_type, *_ in con.execute(f"describe select * from {relation}").fetchall():
        quoted = f'"{name}"'
        if data_type.upper().startswith("VARCHAR"):
            prefixed = f"{QUOTE_LITERAL} || {quoted}"
            parts.append(f"case when regexp_matches({quoted}, '{FORMULA_PATTERN}') then {prefixed} "
                         f"else {quoted} end as {quoted}")  # fmt: skip
        else:
            parts.append(quoted)
    return ", ".join(parts)


def export(con: duckdb.DuckDBPyConnection, folder: Path, file_format: str, month: date | None) -> dict[str, int]:
    """Write each exported relation to `folder`; returns rows written per file name."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, relation in EXPORTED.items():
        if month is not None and name not in _MONTH_COLUMN:
            continue
        where = ""
        if month is not None:
            where = f" where cast({_MONTH_COLUMN[name]} as date) = date '{month.isoformat()}'"
        select_list = _neutralised(con, relation) if file_format == "csv" else "*"
        query = f"select {select_list} from {relation}{where}"
        target = folder / f"{name}.{file_format}"
        options = "format parquet" if file_format == "parquet" else "format csv, header true"
        con.execute(f"copy ({query}) to '{target}' ({options})")
        written[target.name] = con.execute(f"select count(*) from ({query})").fetchall()[0][0]
    return written
