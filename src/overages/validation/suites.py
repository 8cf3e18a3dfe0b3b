"""The expectation suites: what must hold of every bill, each expectation naming the rule it protects.

The rules and sections named in `meta.protects` are those of docs/rules.md.

Severity 'critical' fails `overages validate` (and a build); 'warning' is reported and does not fail.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column, Condition

from overages.validation.frames import (
    CASE_INVOICE_CODE,
    CURRENCIES,
    FEATURES,
    LICENSE_TIERS,
    REJECTION_REASONS,
)


def _where(condition: Condition) -> dict[str, Condition]:
    return {"row_condition": condition}


def _protects(text: str) -> dict[str, str]:
    return {"protects": text}


SOURCE = "source document"


def reference_data() -> list[gxe.Expectation]:
    allocation = Column("kind") == "allocation"
    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="figure", value_set=[1], **_where(allocation & (Column("feature") == "wallboard")),
            meta=_protects(f"{SOURCE}: 'a free allocation of one wallboard account per organization'"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="figure", value_set=[250], **_where(
                allocation & (Column("feature") == "ai_tokens") & (Column("license_type") == "named")
            ),
            meta=_protects(f"{SOURCE}: 'Named license type have a free allocation of 250 AI tokens per month'"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="figure", value_set=[350],
            **_where(allocation & (Column("feature") == "ai_tokens") & (Column("license_type") == "concurrent")),
            meta=_protects(f"{SOURCE}: 'Concurrent license type have a free allocation of 350 AI tokens per month'"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="figure", value_set=[150], **_where(allocation & (Column("feature") == "case_management")),
            meta=_protects(f"{SOURCE}: 'a free allocation of 150 cases per organization per month'"),
        ),
        gxe.ExpectColumnDistinctValuesToEqualSet(
            column="license_tier", value_set=LICENSE_TIERS, **_where(allocation),
            meta=_protects(f"{SOURCE}: the allocation is implemented across all seven main licence tiers"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="figure", **_where(Column("kind") == "price"),
            meta=_protects("reference data (docs/rules.md): a list price for every feature in every currency"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="figure", min_value=0, strict_min=True, **_where(Column("kind") == "price"),
            meta=_protects("reference data (docs/rules.md): every published price is positive"),
        ),
        gxe.ExpectColumnDistinctValuesToEqualSet(
            column="currency", value_set=CURRENCIES, **_where(Column("kind") == "price"),
            meta=_protects("reference data (docs/rules.md): "
                           "price lists in USD, CAD, AUD, NZD, GBP, EUR, BRL, JPY, ZAR"),
        ),
        gxe.ExpectColumnDistinctValuesToEqualSet(
            column="feature", value_set=FEATURES, **_where(Column("kind") == "price"),
            meta=_protects("reference data (docs/rules.md): price lists for wallboard accounts, AI tokens and cases"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="figure", value_set=[0], **_where((Column("kind") == "currency") & (Column("currency") == "JPY")),
            meta=_protects("reference data (docs/rules.md): ISO 4217 minor units, JPY 0"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="figure", value_set=[2], **_where((Column("kind") == "currency") & (Column("currency") != "JPY")),
            meta=_protects("reference data (docs/rules.md): ISO 4217 minor units, 2 for every currency but JPY"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="invoice_code", value_set=[CASE_INVOICE_CODE],
            **_where((Column("kind") == "feature") & (Column("feature") == "case_management")),
            meta=_protects(f"{SOURCE}: case overage 'appears on your Genesys Cloud invoice as {CASE_INVOICE_CODE}'"),
        ),
        gxe.ExpectColumnValuesToBeNull(
            column="invoice_code", **_where((Column("kind") == "feature") & (Column("feature") != "case_management")),
            meta=_protects("reference data (docs/rules.md): the source names no invoice code for the other features"),
        ),
    ]  # fmt: skip


def price_consistency() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="is_consistent", value_set=[True], severity="warning",
            meta=_protects("reference data (docs/rules.md): each currency's price over the USD price is one rate "
                           "across the three features; a figure that departs is reported, never fixed"),
        ),
    ]  # fmt: skip


def monthly_overages() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="overage_quantity", column_B="expected_overage_quantity",
            meta=_protects("rule 6: overage_quantity = greatest(usage_quantity - free_allocation, 0)"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="overage_quantity", min_value=0,
            meta=_protects("rule 6: an overage is never negative"),
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="usage_quantity", column_B="overage_quantity", or_equal=True,
            meta=_protects("rule 6: the overage never exceeds the usage"),
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="billed_quantity", column_B="overage_quantity", or_equal=True,
            meta=_protects("rule 7: billed = greatest(overage, committed) is never below the overage"),
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="billed_quantity", column_B="overage_quantity", **_where(Column("price_source") == "list"),
            meta=_protects("rule 7: without a committed tier, billed_quantity = overage_quantity"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="committed_quantity", value_set=[0], **_where(Column("price_source") == "list"),
            meta=_protects("marts (docs/rules.md): committed_quantity is 0 without a contract"),
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="overage_amount", column_B="expected_overage_amount",
            meta=_protects("rule 8: overage_amount = billed_quantity * unit_price rounded to the currency's "
                           "minor units, halves away from zero"),
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="list_amount_usd", column_B="expected_list_amount_usd",
            meta=_protects("rule 8: list_amount_usd = billed_quantity at the USD list price, rounded to cents"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="overage_amount", min_value=0,
            meta=_protects("rule 8: an amount is never negative"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="list_amount_usd", min_value=0,
            meta=_protects("rule 8: an amount is never negative"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="overage_amount", value_set=[0], **_where(Column("billed_quantity") == 0),
            meta=_protects("rule 8: nothing billed, nothing charged"),
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="free_allocation", column_B="published_free_allocation",
            meta=_protects(f"{SOURCE}: the allocation of the row's feature and licence type (1 wallboard "
                           "account, 250 Named or 350 Concurrent tokens, 150 cases) on every tier"),
        ),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=["org_id", "billing_month", "feature"],
            meta=_protects("marts (docs/rules.md): one row per org, billing month and feature"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="billing_currency", value_set=CURRENCIES,
            meta=_protects("reference data (docs/rules.md): the nine billing currencies"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="feature", value_set=FEATURES,
            meta=_protects("reference data (docs/rules.md): the three features with a free allocation"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="price_source", value_set=["list", "contract"],
            meta=_protects("marts (docs/rules.md): price_source is list or contract"),
        ),
    ]  # fmt: skip


def invoice_lines() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="invoice_amount", column_B="overage_amount",
            meta=_protects("marts (docs/rules.md): invoice lines sum, per org, month and currency, to the overages"),
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="invoice_lines", column_B="billed_rows",
            meta=_protects("marts (docs/rules.md): one invoice line per monthly overage row with billed_quantity > 0"),
        ),
    ]  # fmt: skip


def nothing_lost() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="rows_landed", column_B="rows_accounted", **_where(Column("kind") == "balance"),
            meta=_protects("rule 10: for every raw table, accepted rows plus rejected rows equal rows landed"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="reason", value_set=REJECTION_REASONS, **_where(Column("kind") == "reason"),
            meta=_protects("rule 9: every rejection carries one of the listed reasons"),
        ),
        gxe.ExpectColumnValuesToNotBeNull(
            column="reason", **_where(Column("kind") == "reason"),
            meta=_protects("rule 9: every rejection carries a reason"),
        ),
    ]  # fmt: skip


def billing_reconciliation() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="status", value_set=["match"], severity="warning",
            meta=_protects("What Genesys Cloud bills (billing-period charges, invoice lines) agrees with our "
                           "figures to the currency's minor unit; a difference is reported with its row, "
                           "never fixed, and does not stop a build"),
        ),
    ]  # fmt: skip


def usage_conserved() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="is_conserved", value_set=[True], **_where(Column("kind") == "month"),
            meta=_protects("rule 10: the usage of every accepted row reaches the marts, or waits beyond the "
                           "horizon: per org and month, accepted usage equals billed usage"),
        ),
    ]  # fmt: skip


def future_rows() -> list[gxe.Expectation]:
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="hours_after_as_of", max_value=24, severity="warning", **_where(Column("kind") == "dated"),
            meta=_protects("rule 11: rows dated more than a day after the as-of instant wait beyond the horizon"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="hours_after_as_of", max_value=1, severity="warning", **_where(Column("kind") == "loaded"),
            meta=_protects("rule 13: a _loaded_at more than an hour after the as-of instant is in the future"),
        ),
    ]  # fmt: skip


# Suite name -> (frame it validates, its expectations, what it is for).
SUITES = {
    "reference_data": ("reference_data", reference_data,
                       "Reference data as published: allocations, price lists, minor units, invoice code."),
    "price_consistency": ("price_consistency", price_consistency,
                          "Price-list consistency (warning): one rate to USD per currency across features."),
    "monthly_overages": ("monthly_overages", monthly_overages,
                         "Monthly overages: the arithmetic of rules 6 to 8 on every row "
                         "(figures in whole ten-thousandths, 3.2 as 32000, so that they compare exactly)."),
    "invoice_lines": ("invoice_totals", invoice_lines,
                      "Invoice lines: they add up to the monthly overages (amounts in ten-thousandths)."),
    "nothing_lost": ("nothing_lost", nothing_lost,
                     "Nothing lost: every raw row accepted or rejected with a listed reason."),
    "usage_conserved": ("usage_conserved", usage_conserved,
                        "Usage conserved: accepted usage is billed, or waits beyond the horizon "
                        "(usage in ten-thousandths)."),
    "future_rows": ("future_rows", future_rows,
                    "Rows from the future (warning): dated after the as-of instant, or landed after it."),
    "billing_reconciliation": ("billing_reconciliation", billing_reconciliation,
                               "Billing reconciliation (warning): Genesys's charges and invoices against ours."),
}  # fmt: skip


def build_suite(name: str) -> gx.ExpectationSuite:
    """The suite as code defines it."""
    _, expectations, description = SUITES[name]
    return gx.ExpectationSuite(name=name, expectations=expectations(), meta={"description": description})
