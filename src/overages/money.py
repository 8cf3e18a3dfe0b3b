"""Money in its currency, counts as whole numbers: how every amount and quantity the product shows is written.

Amounts take their currency's minor units from reference.ref_currencies (JPY none, the others 2); the
quantities of counted features (accounts, cases) are whole numbers, tokens keep the digits they have.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import duckdb
import yaml

from overages.warehouse import PROJECT_DIR

# Units counted in whole items (the dbt var counted_units): their quantities never show decimals (tokens may be
# fractional).
COUNTED_UNITS = tuple(
    yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]["counted_units"]
)
# The minor units of a currency the reference data does not list (never the case for accepted rows).
DEFAULT_MINOR_UNITS = 2


def minor_units(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Currency -> its minor units, from the reference rows in force today."""
    rows = con.execute(
        "select currency, minor_units from reference.ref_currencies "
        "where valid_from <= current_date and (valid_to is null or valid_to > current_date)"
    ).fetchall()
    return {currency: int(units) for currency, units in rows}


def counted_features(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The features whose unit is counted in whole items (wallboard accounts, cases)."""
    rows = con.execute(
        "select distinct feature from reference.ref_features where unit in (select unnest(?))", [list(COUNTED_UNITS)]
    ).fetchall()
    return {feature for (feature,) in rows}


def amount(value: Decimal | float | int | None, places: int, *, grouping: bool = True) -> str:
    """An amount to `places` decimals (halves away from zero), with thousands separators unless told not."""
    if value is None:
        return ""
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{rounded:{',' if grouping else ''}.{places}f}"


def in_currency(value: Decimal | float | int | None, currency: str | None, units: dict[str, int],
                *, grouping: bool = True) -> str:  # fmt: skip
    """An amount in its currency's minor units."""
    return amount(value, units.get(currency or "", DEFAULT_MINOR_UNITS), grouping=grouping)


def quantity(value: Decimal | float | int | None, *, counted: bool, grouping: bool = True) -> str:
    """A quantity: a whole number when counted, else its significant decimals only (1,234.5 tokens)."""
    if value is None:
        return ""
    number = Decimal(str(value))
    if counted or number == number.to_integral_value():
        return amount(number, 0, grouping=grouping)
    text = f"{number.normalize():{',' if grouping else ''}f}"
    return text
