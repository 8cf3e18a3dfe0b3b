"""`overages analyses`: the questions in analyses/, listed, or one compiled by dbt and run read-only."""

from __future__ import annotations

import contextlib
import io
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from overages.errors import OveragesError
from overages.warehouse import PROJECT_DIR, connect, state_dir

ANALYSES_DIR = PROJECT_DIR / "analyses"
COMPILED_DIR = state_dir() / "target" / "analyses"
_LEADING_COMMENT = re.compile(r"^\s*\{#(.*?)#\}", re.DOTALL)


def available() -> dict[str, str]:
    """Analysis name -> the first sentence of its leading comment."""
    found = {}
    for sql in sorted(ANALYSES_DIR.glob("*.sql")):
        comment = _LEADING_COMMENT.match(sql.read_text(encoding="utf-8"))
        text = " ".join(comment.group(1).split()) if comment else ""
        found[sql.stem] = (text.split(": ")[0].split(". ")[0].rstrip(".") + ".") if text else ""
    return found


def compile_sql(warehouse: Path, name: str) -> str:
    """The analysis compiled by dbt against the warehouse, opened read-only (the docs' read-only target)."""
    from overages.dbt_invoke import run_dbt

    if name not in available():
        names = ", ".join(available())
        raise OveragesError(f"no analysis {name!r}: choose one of {names}")
    os.environ["WAREHOUSE_DATABASE"] = warehouse.stem
    # dbt prints the compiled SQL of a single node whatever --quiet says: only the result is the output here.
    with contextlib.redirect_stdout(io.StringIO()):
        outcome = run_dbt(["compile", "--select", name, "--target", "duckdb_read_only"],
                          warehouse, quiet=True, target_dir=COMPILED_DIR)  # fmt: skip
    if not outcome.success:
        raise OveragesError(f"dbt could not compile analysis {name}: see logs/dbt.log")
    compiled = list(COMPILED_DIR.rglob(f"analyses/{name}.sql"))
    if not compiled:
        raise OveragesError(f"dbt compiled no SQL for analysis {name}: see logs/dbt.log")
    return compiled[0].read_text(encoding="utf-8")


def run(warehouse: Path, name: str) -> tuple[list[str], list[tuple[Any, ...]], dict[str, int]]:
    """Compile the analysis and run it on a read-only connection; returns its columns, its rows and each
    currency's minor units (to print its amounts)."""
    from overages.money import minor_units

    sql = compile_sql(warehouse, name)
    con = connect(warehouse, read_only=True)
    try:
        result = con.execute(sql)
        columns, rows = [d[0] for d in result.description], result.fetchall()
        return columns, rows, minor_units(con)
    finally:
        con.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}" if value == value.to_integral_value() else f"{value:f}".rstrip("0")
    return str(value)


# A column of money: its name says so (an amount, a charge, a difference of them, a change); quantities, rates,
# prices, ratios and ranks are not. Its currency is the row's currency column, or USD for a *_usd column.
_NOT_MONEY = ("quantity", "rate", "price", "ratio", "rank")
_CURRENCY_COLUMNS = ("currency", "billing_currency")


def _is_money(column: str) -> bool:
    name = column.lower()
    if any(word in name for word in _NOT_MONEY):
        return False
    return "amount" in name or name in ("change", "charge") or name.endswith(("_charge", "_difference", "_minus_list"))


def _cells(columns: list[str], row: tuple[Any, ...], units: dict[str, int]) -> list[str]:
    """One row's cells: amounts in their currency's minor units (3.20 EUR, 18000 JPY), other values as they are."""
    from overages.money import in_currency

    currency = next((row[columns.index(c)] for c in _CURRENCY_COLUMNS if c in columns), None)
    cells = []
    for column, value in zip(columns, row, strict=True):
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool) and _is_money(column):
            of = "USD" if column.endswith("_usd") else currency
            if of is not None:
                cells.append(in_currency(value, of, units, grouping=False))
                continue
        cells.append(_text(value))
    return cells


def render(columns: list[str], rows: list[tuple[Any, ...]], limit: int, units: dict[str, int] | None = None) -> str:
    """The result as an aligned text table (numbers to the right), at most `limit` rows; amounts in their
    currency's minor units when `units` (currency -> minor units) is given."""
    shown = [_cells(columns, row, units) if units is not None else [_text(v) for v in row] for row in rows[:limit]]
    numeric = [all(isinstance(r[i], int | float | Decimal) or r[i] is None for r in rows) for i in range(len(columns))]
    widths = [max([len(c), *(len(r[i]) for r in shown)]) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric, strict=True))

    out = [line(columns), "  ".join("-" * w for w in widths), *(line(r) for r in shown)]
    more = f" (first {limit} shown; --limit to see more)" if len(rows) > limit else ""
    out.append(f"{len(rows):,} rows{more}")
    return "\n".join(out)
