"""The seeds hold the source document's figures exactly as published (docs/rules.md, reference data)."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from conftest import PROJECT_DIR

pytestmark = pytest.mark.rules  # make test-fast

SEEDS = PROJECT_DIR / "seeds" / "reference"
SOURCE = PROJECT_DIR / "docs" / "genesys-cloud-free-allocation.txt"
CURRENCIES = ["USD", "CAD", "AUD", "NZD", "GBP", "EUR", "BRL", "JPY", "ZAR"]


def read(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_source_document_is_the_shared_one() -> None:
    shared = PROJECT_DIR.parent / "shared" / "seed" / SOURCE.name
    if shared.exists():  # beside a checkout on the project's machines; the repo carries its own copy
        assert shared.read_text() == SOURCE.read_text()
    assert "GC-170-NV-CASEMGMT" in SOURCE.read_text()


def test_free_allocation_of_every_tier_type_and_feature() -> None:
    rows = read("ref_free_allocations")
    expected = {
        "wallboard": {"named": "1", "concurrent": "1"},
        "ai_tokens": {"named": "250", "concurrent": "350"},
        "case_management": {"named": "150", "concurrent": "150"},
    }
    tiers = {"CX1", "CX2", "CX2_DIGITAL", "CX3", "CX3_DIGITAL", "CX4", "EX"}
    assert len(rows) == 7 * 2 * 3
    assert {r["license_tier"] for r in rows} == tiers
    for row in rows:
        assert row["free_quantity"] == expected[row["feature"]][row["license_type"]], row
        assert row["is_tabulated"] == ("true" if row["license_tier"] in {"CX1", "CX2", "CX3", "CX4"} else "false")


@pytest.mark.parametrize(
    "feature, run_together",
    [
        ("wallboard", "18.0019.8023.4025.2012.6014.4072.002,160.00255.60"),
        ("ai_tokens", "1.001.101.301.400.7000.8004.0120.0014.2"),
        ("case_management", "0.40000.44000.52000.56000.28000.32000.160048.00005.6800"),
    ],
)
def test_price_rows_split_as_published(feature: str, run_together: str) -> None:
    """Each price row, read back in currency order, is the source's run-together row to the character."""
    assert run_together in SOURCE.read_text()
    rows = [r for r in read("ref_list_prices") if r["feature"] == feature]
    assert [r["currency"] for r in rows] == CURRENCIES
    assert "".join(r["published_figure"] for r in rows) == run_together
    for row in rows:
        assert Decimal(row["unit_price"]) == Decimal(row["published_figure"].replace(",", ""))


def test_price_split_keeps_each_currency_ratio_where_the_source_does() -> None:
    """The split chosen keeps every currency's ratio to USD, except the one figure the source itself breaks."""
    prices = {(r["feature"], r["currency"]): Decimal(r["unit_price"]) for r in read("ref_list_prices")}
    ratio = {c: prices[("wallboard", c)] / prices[("wallboard", "USD")] for c in CURRENCIES}
    departures = [
        (f, c)
        for f in ("ai_tokens", "case_management")
        for c in CURRENCIES
        if prices[(f, c)] / prices[(f, "USD")] != ratio[c]
    ]
    assert departures == [("case_management", "BRL")]


def test_currencies_invoice_codes_and_effective_dates() -> None:
    assert {r["currency"]: r["minor_units"] for r in read("ref_currencies")} == {
        c: ("0" if c == "JPY" else "2") for c in CURRENCIES
    }
    assert {r["feature"]: r["invoice_code"] for r in read("ref_features")} == {
        "wallboard": "",
        "ai_tokens": "",
        "case_management": "GC-170-NV-CASEMGMT",
    }
    for name in (
        "ref_features",
        "ref_license_tiers",
        "ref_license_types",
        "ref_free_allocations",
        "ref_list_prices",
        "ref_currencies",
    ):
        for row in read(name):
            assert row["valid_from"] == "2000-01-01" and row["valid_to"] == "", (name, row)
