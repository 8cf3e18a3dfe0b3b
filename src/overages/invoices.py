"""`overages invoice`: one org's bill for a month, printed, and written as a self-contained HTML page and a CSV.

The figures are those of marts.fct_invoices and marts.fct_invoice_lines: as issued once the month is closed
(final), as the rules compute them while it is open (draft). Amounts are in the invoice currency's minor
units; counted quantities are whole numbers.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from overages import money
from overages.errors import OveragesError
from overages.report import esc

LINE_COLUMNS = ("line_type", "feature", "invoice_code", "description", "usage_quantity", "free_allocation", "quantity",
                "unit", "unit_price", "amount", "currency", "price_source", "adjusted_invoice_number",
                "adjusted_billing_month", "adjustment_reason")  # fmt: skip
HEADER_COLUMNS = ("invoice_number", "org_id", "org_name", "billing_month", "currency", "status", "total_amount",
                  "adjustment_amount", "issued_at", "issued_by_build_id", "lines_in_other_currencies")  # fmt: skip
# A text cell a spreadsheet would run as a formula (as in overages.export) gets a leading apostrophe.
FORMULA = re.compile(r"^[-=+@\t\r]")


@dataclass
class Invoice:
    header: dict[str, Any]
    lines: list[dict[str, Any]]
    minor_units: dict[str, int]
    counted: set[str]

    @property
    def number(self) -> str:
        return str(self.header["invoice_number"])

    def amount(self, value: Any, currency: str | None = None, *, grouping: bool = True) -> str:
        return money.in_currency(value, currency or self.header["currency"], self.minor_units, grouping=grouping)

    def quantity(self, line: dict[str, Any], column: str, *, grouping: bool = True) -> str:
        return money.quantity(line[column], counted=line["feature"] in self.counted, grouping=grouping)


def _require_invoices(con: duckdb.DuckDBPyConnection) -> None:
    found = con.execute("select count(*) from information_schema.tables where table_schema = 'marts' "
                        "and table_name = 'fct_invoices'").fetchall()[0][0]  # fmt: skip
    if not found:
        raise OveragesError("the warehouse has no marts.fct_invoices: build it first (overages build)")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def load(con: duckdb.DuckDBPyConnection, org_id: str, month: date) -> Invoice:
    """One org's invoice for a month; a one-line error when the org or the month has none."""
    _require_invoices(con)
    headers = _rows(con, f"select {', '.join(HEADER_COLUMNS)} from marts.fct_invoices "
                         "where org_id = ? and billing_month = ?", [org_id, month])  # fmt: skip
    if not headers:
        known = con.execute("select count(*) from marts.dim_orgs where org_id = ?", [org_id]).fetchall()[0][0]
        if not known:
            raise OveragesError(f"no org {org_id!r} in the warehouse (org ids keep their letter case)")
        raise OveragesError(f"org {org_id} has no invoice for {month:%Y-%m}: nothing was billed that month")
    return _invoice(con, headers[0])


def load_month(con: duckdb.DuckDBPyConnection, month: date) -> list[Invoice]:
    """Every org's invoice for a month; a one-line error when there is none."""
    _require_invoices(con)
    headers = _rows(con, f"select {', '.join(HEADER_COLUMNS)} from marts.fct_invoices where billing_month = ? "
                         "order by org_id", [month])  # fmt: skip
    if not headers:
        raise OveragesError(f"no invoice for {month:%Y-%m} in the warehouse: no org was billed that month")
    units, counted = money.minor_units(con), money.counted_features(con)
    return [_invoice(con, header, units, counted) for header in headers]


def _invoice(con: duckdb.DuckDBPyConnection, header: dict[str, Any], units: dict[str, int] | None = None,
             counted: set[str] | None = None) -> Invoice:  # fmt: skip
    order = "case when line_type = 'charge' then 0 else 1 end, feature, adjusted_billing_month, currency"
    lines = _rows(con, f"select {', '.join(LINE_COLUMNS)} from marts.fct_invoice_lines where invoice_number = ? "
                       f"order by {order}", [header["invoice_number"]])  # fmt: skip
    return Invoice(header, lines, units if units is not None else money.minor_units(con),
                   counted if counted is not None else money.counted_features(con))  # fmt: skip


def _price(line: dict[str, Any]) -> str:
    """A unit price as published (four decimals: a rate, not an amount); blank on adjustments."""
    return "" if line["unit_price"] is None else money.amount(line["unit_price"], 4)


def _status_text(invoice: Invoice) -> str:
    header = invoice.header
    if header["status"] == "final":
        return f"final, issued {header['issued_at']:%Y-%m-%d %H:%M} UTC from build {header['issued_by_build_id']}"
    return "draft: the month is open, figures may still change"


def render_text(invoice: Invoice) -> str:
    """The bill as text for the terminal."""
    h = invoice.header
    lines = [f"Invoice {invoice.number} ({_status_text(invoice)})",
             f"{h['org_name'] or ''} ({h['org_id']}), billing month {h['billing_month']:%Y-%m}, "
             f"currency {h['currency']}", "",
             f"  {'code':<19} {'description':<58} {'quantity':>12} {'unit':<8} {'unit price':>11} "
             f"{'amount':>14}"]  # fmt: skip
    for line in invoice.lines:
        unit = line["unit"] if line["quantity"] is not None else ""
        lines.append(f"  {line['invoice_code'] or '':<19} {line['description']:<58} "
                     f"{invoice.quantity(line, 'quantity'):>12} {unit:<8} {_price(line):>11} "
                     f"{invoice.amount(line['amount'], line['currency']):>14}"
                     + (f" {line['currency']}" if line["currency"] != h["currency"] else ""))  # fmt: skip
    lines += ["", f"  {'Total ' + h['currency']:>113} {invoice.amount(h['total_amount']):>14}"]
    if h["lines_in_other_currencies"]:
        lines.append(f"  ({h['lines_in_other_currencies']} adjustment line(s) in another currency, not in the total)")
    return "\n".join(lines)


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:32px auto;max-width:900px;color:#222}
h1{font-size:22px;margin:0 0 4px}.meta{color:#555;margin:2px 0}.status-draft{color:#a15c00}.status-final{color:#1b6e20}
table{border-collapse:collapse;width:100%;margin:18px 0;font-size:13px}th,td{border-bottom:1px solid #e4e4e4;
padding:5px 8px;text-align:left;vertical-align:top}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tfoot td{font-weight:600;border-top:2px solid #333;border-bottom:none}.note{color:#666;font-size:12px}
"""


def render_html(invoice: Invoice) -> str:
    """The bill as one self-contained HTML page: no script, nothing fetched, every data text escaped."""
    h = invoice.header
    policy = "default-src 'none'; style-src 'unsafe-inline'"
    rows = []
    for line in invoice.lines:
        cells = [
            f"<td>{esc(line['invoice_code'])}</td>",
            f"<td>{esc(line['description'])}</td>",
            f'<td class="num">{esc(invoice.quantity(line, "usage_quantity"))}</td>',
            f'<td class="num">{esc(invoice.quantity(line, "free_allocation"))}</td>',
            f'<td class="num">{esc(invoice.quantity(line, "quantity"))}</td>',
            f"<td>{esc(line['unit'] if line['quantity'] is not None else '')}</td>",
            f'<td class="num">{esc(_price(line))}</td>',
            f'<td class="num" data-amount="{esc(invoice.amount(line["amount"], line["currency"], grouping=False))}">'
            f"{esc(invoice.amount(line['amount'], line['currency']))}"
            f"{' ' + esc(line['currency']) if line['currency'] != h['currency'] else ''}</td>",
        ]
        rows.append(f'<tr data-line-type="{esc(line["line_type"])}">{"".join(cells)}</tr>')
    other = ""
    if h["lines_in_other_currencies"]:
        other = (f'<p class="note">{esc(h["lines_in_other_currencies"])} adjustment line(s) in another currency are '
                 "listed but not in the total (no exchange rate).</p>")  # fmt: skip
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Invoice {esc(invoice.number)}</title>'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}"><style>{STYLE}</style></head><body>'
        f'<h1>Invoice <span id="invoice-number">{esc(invoice.number)}</span></h1>'
        f'<p class="meta status-{esc(h["status"])}" id="status">{esc(_status_text(invoice))}</p>'
        f'<p class="meta" id="bill-to">Bill to: <strong>{esc(h["org_name"])}</strong> (organisation {esc(h["org_id"])})'
        f'</p><p class="meta">Genesys Cloud usage beyond the free allocations, billing month '
        f'{esc(h["billing_month"].strftime("%Y-%m"))}; amounts in <span id="currency">{esc(h["currency"])}</span>.</p>'
        "<table><thead><tr><th>Code</th><th>Description</th><th class=num>Usage</th><th class=num>Free</th>"
        "<th class=num>Billed</th><th>Unit</th><th class=num>Unit price</th><th class=num>Amount</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody><tfoot><tr><td colspan=7>Total {esc(h['currency'])}</td>"
        f'<td class="num" id="total" data-amount="{esc(invoice.amount(h["total_amount"], grouping=False))}">'
        f"{esc(invoice.amount(h['total_amount']))}</td></tr></tfoot></table>{other}"
        '<p class="note">Adjustment lines correct a closed month\'s final invoice: a debit when the month now comes '
        "to more than was invoiced, a credit when less.</p></body></html>"
    )


CSV_COLUMNS = ("invoice_number", "status", "org_id", "org_name", "billing_month", "line_type", "invoice_code",
               "description", "usage_quantity", "free_allocation", "quantity", "unit", "unit_price", "amount",
               "currency", "adjusted_invoice_number", "adjusted_billing_month", "adjustment_reason")  # fmt: skip


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if FORMULA.match(text) else text


def render_csv(invoice: Invoice) -> str:
    """The bill's lines as CSV: one row per line, amounts in minor units, no thousands separators."""
    h = invoice.header
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in invoice.lines:
        writer.writerow([
            _cell(h["invoice_number"]), h["status"], _cell(h["org_id"]), _cell(h["org_name"]),
            h["billing_month"].isoformat(), line["line_type"], _cell(line["invoice_code"]), _cell(line["description"]),
            invoice.quantity(line, "usage_quantity", grouping=False),
            invoice.quantity(line, "free_allocation", grouping=False),
            invoice.quantity(line, "quantity", grouping=False), line["unit"] if line["quantity"] is not None else "",
            _price(line).replace(",", ""),
            invoice.amount(line["amount"], line["currency"], grouping=False), line["currency"],
            _cell(line["adjusted_invoice_number"]),
            line["adjusted_billing_month"].isoformat() if line["adjusted_billing_month"] else "",
            line["adjustment_reason"] or "",
        ])  # fmt: skip
    return out.getvalue()


def write(invoice: Invoice, folder: Path) -> tuple[Path, Path]:
    """Write the invoice's HTML page and CSV (UTF-8 with a byte-order mark, so spreadsheets read non-ASCII
    names right) into `folder`, named after the invoice number."""
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{invoice.number}.html"
    table = folder / f"{invoice.number}.csv"
    page.write_text(render_html(invoice), encoding="utf-8")
    table.write_text(render_csv(invoice), encoding="utf-8-sig", newline="")
    return page, table
