"""The figures the suites compare against are computed in Arrow, exactly: halves away from zero in each
currency's minor units, and written for Great Expectations as whole ten-thousandths without losing a digit."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pyarrow as pa
import pytest

from overages.validation.frames import monthly_overages, ten_thousandths

pytestmark = pytest.mark.rules  # make test-fast

# billed quantity, unit price, currency: products that sit on a half, beside ordinary ones.
ROWS = [
    ("12.5000", "0.0100", "USD"),  # 0.125 -> 0.13
    ("2.5000", "1.0000", "JPY"),  # 2.5 -> 3
    ("3.5000", "1.0000", "JPY"),  # 3.5 -> 4 (not to even)
    ("1.0000", "0.0050", "EUR"),  # 0.005 -> 0.01
    ("0.9999", "0.0050", "EUR"),  # 0.0049995 -> 0.00
    ("99999999.9999", "9999.9999", "GBP"),  # the product needs 37 digits
    ("7.0000", None, "USD"),  # no price, no figure
]


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts; create schema reference")
    con.execute("""
        create table marts.fct_monthly_overages (
            org_id varchar, billing_month date, feature varchar, license_tier varchar, license_type varchar,
            billing_currency varchar, usage_quantity decimal(18,4), free_allocation decimal(18,4),
            overage_quantity decimal(18,4), committed_quantity decimal(18,4), billed_quantity decimal(18,4),
            unit_price decimal(18,4), price_source varchar, overage_amount decimal(18,4),
            list_amount_usd decimal(18,4))""")
    con.execute("""create table reference.ref_list_prices (feature varchar, currency varchar,
                   unit_price decimal(18,4), valid_from date, valid_to date)""")
    con.execute("insert into reference.ref_list_prices values ('ai_tokens', 'USD', 0.0150, '2020-01-01', null)")
    for number, (billed, price, currency) in enumerate(ROWS):
        con.execute(
            "insert into marts.fct_monthly_overages values (?, ?, 'ai_tokens', 'CX2', 'named', ?, ?, 250, ?, 0, ?, ?,"
            " 'list', 0, 0)",
            [f"org-{number}", date(2026, 10, 1), currency, Decimal(billed) + 250, billed, billed, price],
        )
    return con


def test_expected_amounts_round_halves_away_from_zero_in_minor_units() -> None:
    table = monthly_overages(_warehouse())
    got = dict(zip(table["org_id"].to_pylist(), table["expected_overage_amount"].to_pylist(), strict=True))
    for number, (billed, price, currency) in enumerate(ROWS):
        if price is None:
            assert got[f"org-{number}"] is None
            continue
        places = Decimal(1) if currency == "JPY" else Decimal("0.01")
        assert got[f"org-{number}"] == (Decimal(billed) * Decimal(price)).quantize(places, rounding=ROUND_HALF_UP)
    assert got["org-0"] == Decimal("0.13") and got["org-2"] == Decimal(4) and got["org-4"] == Decimal(0)
    overage = dict(zip(table["org_id"].to_pylist(), table["expected_overage_quantity"].to_pylist(), strict=True))
    assert overage["org-1"] == Decimal("2.5") and table["published_free_allocation"].to_pylist()[0] == 250


def test_ten_thousandths_are_exact_to_the_last_digit_or_left_decimal() -> None:
    largest = Decimal("99999999999999.9999")
    values = pa.chunked_array([pa.array([largest, Decimal("-0.0001"), Decimal("3.2"), None], pa.decimal128(38, 4))])
    assert ten_thousandths(values).to_pylist() == [999999999999999999, -1, 32000, None]
    # A fifth decimal, or a value past decimal(18,4), would not survive: the column stays as it was.
    finer = pa.chunked_array([pa.array([Decimal("0.00001")], pa.decimal128(10, 5))])
    beyond = pa.chunked_array([pa.array([largest + 1], pa.decimal128(38, 4))])
    assert ten_thousandths(finer).type == finer.type and ten_thousandths(beyond).type == beyond.type
