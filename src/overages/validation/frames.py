"""The tables the suites validate, one parquet file each, exported from the warehouse.

Each frame is small: reference data, the monthly overages mart (one row per org, month and feature), and
per-table or per-reason counts that SQL aggregates from the raw and audit tables, so no raw table is ever
pulled into memory. Figures the rules imply (the overage, the rounded amount, the published allocation)
are computed here with Arrow's decimal arithmetic (exact, vectorised), independently of the warehouse's SQL,
so that the suites compare two separate computations.

Great Expectations reads each frame from parquet into pandas, where a decimal is a Python object and every
comparison of 200,000 rows of them is slow (about 10 s for the monthly overages at 10 million events). The
frames of figures (SCALED) are therefore written for it with each decimal as a whole number of ten-thousandths
(3.2 as 32000), an exact int64 for every value the marts' decimal(18,4) can hold; a column that does not fit
stays decimal. The examples a failure shows are read from the frame as queried, in decimals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# The source document's figures, as published (free units per org per month).
PUBLISHED_FREE_ALLOCATION = {
    ("wallboard", "named"): Decimal(1),
    ("wallboard", "concurrent"): Decimal(1),
    ("ai_tokens", "named"): Decimal(250),
    ("ai_tokens", "concurrent"): Decimal(350),
    ("case_management", "named"): Decimal(150),
    ("case_management", "concurrent"): Decimal(150),
}
FEATURES = ["wallboard", "ai_tokens", "case_management"]
CURRENCIES = ["USD", "CAD", "AUD", "NZD", "GBP", "EUR", "BRL", "JPY", "ZAR"]
LICENSE_TIERS = ["CX1", "CX2", "CX2_DIGITAL", "CX3", "CX3_DIGITAL", "CX4", "EX"]
MINOR_UNITS = {currency: (0 if currency == "JPY" else 2) for currency in CURRENCIES}
CASE_INVOICE_CODE = "GC-170-NV-CASEMGMT"


def _rejection_reasons() -> list[str]:
    """rule 9's reasons in their order: the var rejection_reasons of dbt_project.yml, the project's one list."""
    import yaml

    from overages.warehouse import PROJECT_DIR

    with (PROJECT_DIR / "dbt_project.yml").open(encoding="utf-8") as handle:
        return list(yaml.safe_load(handle)["vars"]["rejection_reasons"])


REJECTION_REASONS = _rejection_reasons()
RAW_TABLES = ["org_subscriptions", "wallboard_accounts", "ai_token_events", "cases", "case_workitems",
              "contract_rates", "genesys_billing_charges", "genesys_invoice_lines"]  # fmt: skip

_IN_FORCE_TODAY = "valid_from <= current_date and (valid_to is null or valid_to > current_date)"


def _table(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Query to an Arrow table, decimals kept as decimals."""
    return con.sql(sql).arrow().read_all()


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """Query to pandas keeping decimals as Decimal (not float)."""
    return _table(con, sql).to_pandas()


def _with(table: pa.Table, **columns: pa.Array | pa.ChunkedArray) -> pa.Table:
    for name, values in columns.items():
        table = table.append_column(name, values)
    return table


def _round_half_away(values: pa.ChunkedArray, places: int | pa.ChunkedArray) -> pa.ChunkedArray:
    """Round to `places` decimals (one number, or per row: 0 or 2), halves away from zero (rule 8)."""
    if isinstance(places, int):
        return pc.round(values, ndigits=places, round_mode="half_towards_infinity")
    whole = pc.round(values, ndigits=0, round_mode="half_towards_infinity")
    cents = pc.round(values, ndigits=2, round_mode="half_towards_infinity")
    return pc.if_else(pc.equal(places, 0), whole, cents)


def reference_data(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """One row per reference fact in force today, tagged by kind (allocation, price, currency, feature)."""
    return _table(
        con,
        f"""
        select 'allocation' as kind, license_tier, license_type, feature, null as currency,
               free_quantity as figure, null as invoice_code
        from reference.ref_free_allocations where {_IN_FORCE_TODAY}
        union all
        select 'price', null, null, features.feature, currencies.currency, prices.unit_price, null
        from (select distinct feature from reference.ref_features where {_IN_FORCE_TODAY}) as features
        cross join (select distinct currency from reference.ref_currencies where {_IN_FORCE_TODAY}) as currencies
        left join (select * from reference.ref_list_prices where {_IN_FORCE_TODAY}) as prices
            on prices.feature = features.feature and prices.currency = currencies.currency
        union all
        select 'currency', null, null, null, currency, cast(minor_units as decimal(18, 4)), null
        from reference.ref_currencies where {_IN_FORCE_TODAY}
        union all
        select 'feature', null, null, feature, null, null, invoice_code
        from reference.ref_features where {_IN_FORCE_TODAY}
        order by 1, 2, 3, 4, 5
    """,
    )


def price_consistency(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per feature and currency: its ratio to the USD price and the rate the other features imply."""
    frame = _frame(
        con,
        f"""
        select prices.feature, prices.currency, prices.unit_price, usd.unit_price as usd_unit_price
        from (select * from reference.ref_list_prices where {_IN_FORCE_TODAY}) as prices
        inner join (select * from reference.ref_list_prices where {_IN_FORCE_TODAY} and currency = 'USD') as usd
            on prices.feature = usd.feature
        order by prices.currency, prices.feature
    """,
    )
    frame["ratio_to_usd"] = [p / u if u else None for p, u in zip(frame.unit_price, frame.usd_unit_price, strict=True)]
    implied, consistent = [], []
    for _, row in frame.iterrows():
        others = frame[(frame.currency == row.currency) & (frame.feature != row.feature)].ratio_to_usd.tolist()
        counts = Counter(others)
        # The rate the other features agree on; where they disagree too, the most common rate of all three.
        rate = others[0] if len(counts) == 1 else Counter([*others, row.ratio_to_usd]).most_common(1)[0][0]
        implied.append(rate)
        consistent.append(row.ratio_to_usd == rate)
    frame["rate_implied_by_others"] = implied
    frame["is_consistent"] = consistent
    return frame


def monthly_overages(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The monthly overages mart, with the figures the rules imply computed beside the mart's own."""
    table = _table(
        con,
        """
        select overages.*, usd.unit_price as usd_list_unit_price
        from marts.fct_monthly_overages as overages
        left join reference.ref_list_prices as usd
            on usd.feature = overages.feature and usd.currency = 'USD'
            and usd.valid_from <= overages.billing_month
            and (usd.valid_to is null or overages.billing_month < usd.valid_to)
        order by org_id, billing_month, feature
    """,
    )
    difference = pc.subtract(table["usage_quantity"], table["free_allocation"])
    zero = pa.scalar(Decimal(0), difference.type)
    whole_currencies = pa.array([currency for currency, places in MINOR_UNITS.items() if places == 0])
    minor_units = pc.if_else(pc.is_in(table["billing_currency"], value_set=whole_currencies), 0, 2)
    keys = sorted(PUBLISHED_FREE_ALLOCATION)
    published = pa.array([PUBLISHED_FREE_ALLOCATION[key] for key in keys], pa.decimal128(18, 4))
    found = pc.index_in(pc.binary_join_element_wise(table["feature"], table["license_type"], "|"),
                        value_set=pa.array([f"{feature}|{kind}" for feature, kind in keys]))  # fmt: skip
    return _with(
        table,
        # rule 6: greatest(usage - free, 0); no allocation, no figure
        expected_overage_quantity=pc.max_element_wise(difference, zero, skip_nulls=False),
        # rule 8: billed times price, rounded to the currency's minor units, halves away from zero
        expected_overage_amount=_round_half_away(
            pc.multiply(table["billed_quantity"], table["unit_price"]), minor_units),
        expected_list_amount_usd=_round_half_away(
            pc.multiply(table["billed_quantity"], table["usd_list_unit_price"]), 2),
        published_free_allocation=pc.take(published, found),
    )  # fmt: skip


def invoice_totals(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Per org, open month and currency: the draft invoice's charges beside the monthly overages' total. A
    closed month's final invoice is as issued: audit.invoice_reconciliation accounts for it instead."""
    return _table(
        con,
        """
        with lines as (
            select org_id, billing_month, currency, sum(amount) as invoice_amount, count(*) as invoice_lines
            from marts.fct_invoice_lines where line_type = 'charge' and status = 'draft' group by all
        ),
        overages as (
            select org_id, billing_month, billing_currency as currency, sum(overage_amount) as overage_amount,
                   count(*) filter (where billed_quantity > 0) as billed_rows
            from marts.fct_monthly_overages
            where billing_month not in (select billing_month from audit.closed_billing_months)
            group by all
        )
        select
            coalesce(overages.org_id, lines.org_id) as org_id,
            coalesce(overages.billing_month, lines.billing_month) as billing_month,
            coalesce(overages.currency, lines.currency) as currency,
            coalesce(lines.invoice_amount, 0) as invoice_amount,
            coalesce(overages.overage_amount, 0) as overage_amount,
            coalesce(lines.invoice_lines, 0) as invoice_lines,
            coalesce(overages.billed_rows, 0) as billed_rows
        from overages
        full outer join lines
            on overages.org_id = lines.org_id and overages.billing_month = lines.billing_month
            and overages.currency = lines.currency
        order by 1, 2, 3
    """,
    )


def nothing_lost(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Per raw table: rows landed (counted in raw), accepted and rejected; and per rejection reason, its rows.

    A mirror of a Spark warehouse (overages.spark.mirror) has no raw tables: it carries their counts, made
    on Spark, in main.raw_row_counts; a published snapshot carries the counts its build read.
    """
    mirrored = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'main' and table_name = 'raw_row_counts'"
    ).fetchall()[0][0]
    # A published snapshot (overages.publish) has the counts its build read in audit.snapshot_raw_tables.
    published = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'audit' "
        "and table_name = 'snapshot_raw_tables'"
    ).fetchall()[0][0]
    listed = ", ".join(f"'{table}'" for table in RAW_TABLES)
    present = {row[0] for row in con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}  # fmt: skip
    counts = (
        "select source_table, rows_landed from main.raw_row_counts"
        if mirrored
        else f"select table_name as source_table, rows_landed from audit.snapshot_raw_tables where table_name in "
        f"({listed})"
        if published
        else " union all ".join(
            f"select '{table}' as source_table, count(*) as rows_landed from raw.{table}"
            for table in RAW_TABLES
            if table in present
        )
    )
    table = _table(
        con,
        f"""
        with landed as ({counts}),
        rejected as (select source_table, count(*) as rows_rejected from audit.rejected_rows group by all)
        select 'balance' as kind, landed.source_table, null as reason, landed.rows_landed,
               coalesce(reconciliation.rows_accepted, 0) as rows_accepted,
               coalesce(rejected.rows_rejected, 0) as rows_rejected
        from landed
        left join audit.raw_reconciliation as reconciliation on landed.source_table = reconciliation.source_table
        left join rejected on landed.source_table = rejected.source_table
        union all
        select 'reason', source_table, reason, null, null, count(*)
        from audit.rejected_rows group by all
        order by 1, 2, 3
    """,
    )
    accounted = pc.add(table["rows_accepted"], table["rows_rejected"])
    return _with(table, rows_accounted=pc.if_else(pc.equal(table["kind"], "balance"), accounted,
                                                  pa.scalar(None, accounted.type)))  # fmt: skip


def billing_reconciliation(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """fct_billing_reconciliation: our figures beside what Genesys bills (empty where the mart is not built)."""
    found = con.execute("select count(*) from information_schema.tables where table_schema = 'marts' "
                        "and table_name = 'fct_billing_reconciliation'").fetchall()[0][0]  # fmt: skip
    if not found:
        return pa.table({name: pa.array([], pa.string())
                         for name in ("org_id", "billing_month", "feature", "currency", "status")})  # fmt: skip
    return _table(con, "select * from marts.fct_billing_reconciliation order by org_id, billing_month, feature")


def usage_conserved(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Per raw usage table, org, month and feature: the usage of its accepted rows (audit.usage_reconciliation,
    recomputed from the validated rows) beside what the monthly overages mart bills now, for every month up
    to the horizon; and per raw table, the usage waiting beyond it. Usage is conserved where the two agree.
    """
    table = _table(
        con,
        """
        with accepted as (
            select * from audit.usage_reconciliation where not is_beyond_horizon
        ),
        billed as (
            select org_id, billing_month, feature, usage_quantity from marts.fct_monthly_overages
            where usage_quantity <> 0
        )
        select
            'month' as kind,
            coalesce(accepted.source_table, case billed.feature when 'ai_tokens' then 'ai_token_events'
                when 'case_management' then 'cases' else 'wallboard_accounts' end) as source_table,
            coalesce(accepted.org_id, billed.org_id) as org_id,
            coalesce(accepted.billing_month, billed.billing_month) as billing_month,
            coalesce(accepted.feature, billed.feature) as feature,
            coalesce(accepted.accepted_usage, 0) as accepted_usage,
            coalesce(billed.usage_quantity, 0) as billed_usage
        from accepted
        full outer join billed
            on accepted.org_id = billed.org_id and accepted.billing_month = billed.billing_month
            and accepted.feature = billed.feature
        union all
        select 'waiting', source_table, null, null, feature, sum(accepted_usage), 0
        from audit.usage_reconciliation where is_beyond_horizon
        group by all
        order by 1, 2, 3, 4, 5
    """,
    )
    return _with(table, is_conserved=pc.or_(pc.not_equal(table["kind"], "month"),
                                            pc.equal(table["accepted_usage"], table["billed_usage"])))  # fmt: skip


# Where each raw table's rows are dated (rule 11) and how a row is named.
_DATED = {
    "org_subscriptions": ("effective_from", "org_id || '|' || cast(effective_from as varchar)"),
    "wallboard_accounts": ("greatest(created_at, coalesce(deleted_at, created_at))", "account_id"),
    "ai_token_events": ("occurred_at", "event_id"),
    "cases": ("created_at", "case_id"),
    "case_workitems": ("greatest(created_at, coalesce(completed_at, created_at))", "workitem_id"),
    "contract_rates": (
        "cast(valid_from as timestamp)",
        "org_id || '|' || feature || '|' || cast(valid_from as varchar)",
    ),
}
_LISTED = 1000


def future_rows(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Raw rows from the build's future (rules 11 and 13): dated more than a day after its as-of instant
    (intermediate.int_billing_horizon.as_of_at), or landed (_loaded_at) more than an hour after it; at most
    1,000 of each table and kind. Empty on a Spark mirror, which carries no raw tables.
    """
    columns = ["kind", "source_table", "record_id", "row_at", "hours_after_as_of"]
    has_tables = con.execute(
        "select count(*) from information_schema.tables where (table_schema = 'intermediate' "
        "and table_name = 'int_billing_horizon') or (table_schema = 'raw' and table_name = 'cases')"
    ).fetchall()[0][0]
    if has_tables < 2:
        return pa.table({name: pa.array([], pa.string()) for name in columns})
    selects = []
    for table, (dated, record_id) in _DATED.items():
        for kind, at, limit_hours in (("dated", dated, 24), ("loaded", "_loaded_at", 1)):
            selects.append(f"""
                (select '{kind}' as kind, '{table}' as source_table, cast({record_id} as varchar) as record_id,
                        cast({at} as timestamp) as row_at,
                        date_diff('second', as_of.as_of_at, cast({at} as timestamp)) / 3600.0 as hours_after_as_of
                 from raw.{table} cross join (select as_of_at from intermediate.int_billing_horizon) as as_of
                 where cast({at} as timestamp) > as_of.as_of_at + interval {limit_hours} hour
                 order by row_at desc limit {_LISTED})""")
    return _table(con, " union all ".join(selects) + " order by 1, 2, 4 desc").select(columns)


FRAMES: dict[str, Callable[[duckdb.DuckDBPyConnection], pa.Table | pd.DataFrame]] = {
    "reference_data": reference_data,
    "price_consistency": price_consistency,  # pandas: its rates are Python decimals (4, not 4.0)
    "monthly_overages": monthly_overages,
    "invoice_totals": invoice_totals,
    "nothing_lost": nothing_lost,
    "billing_reconciliation": billing_reconciliation,
    "usage_conserved": usage_conserved,
    "future_rows": future_rows,
}
# The frames of figures, written with decimals as whole ten-thousandths (see the module's docstring).
SCALED = {"monthly_overages", "invoice_totals", "usage_conserved"}
_TEN_THOUSAND = pa.scalar(Decimal(10_000), pa.decimal128(5, 0))


def ten_thousandths(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """A decimal column as an exact int64 count of ten-thousandths; unchanged where a value does not fit
    decimal(18,4) (more digits, or beyond its range)."""
    if not pa.types.is_decimal(values.type):
        return values
    try:
        return pc.multiply(values.cast(pa.decimal128(18, 4)), _TEN_THOUSAND).cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return values


def export(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, pa.Table | pd.DataFrame]:
    """Write every frame to `folder` as parquet; returns the frames as queried (for reporting failing rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name, build in FRAMES.items():
        table = build(con)
        written = pa.Table.from_pandas(table, preserve_index=False) if isinstance(table, pd.DataFrame) else table
        if name in SCALED:
            written = pa.table({column: ten_thousandths(table[column]) for column in table.column_names})
        pq.write_table(written, folder / f"{name}.parquet")
        tables[name] = table
    return tables
