"""The raw landing contract of docs/rules.md: the tables, their columns and the types accepted."""

from __future__ import annotations

from dataclasses import dataclass

RAW_SCHEMA = "raw"

# Families of DuckDB types a raw column may arrive as. A column of another type is a landing error.
TEXT = "text"
TIMESTAMP = "timestamp"
DATE = "date"
NUMBER = "number"

_ACCEPTED_TYPES: dict[str, tuple[str, ...]] = {
    # Ids are text in the marts; a loader that lands them as integers is still understood.
    TEXT: ("VARCHAR", "BIGINT", "INTEGER", "HUGEINT", "UBIGINT", "UINTEGER", "SMALLINT", "UUID"),
    TIMESTAMP: ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE", "DATE"),
    DATE: ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE"),
    NUMBER: (
        "DECIMAL",
        "DOUBLE",
        "FLOAT",
        "REAL",
        "BIGINT",
        "INTEGER",
        "HUGEINT",
        "SMALLINT",
        "TINYINT",
        "UBIGINT",
        "UINTEGER",
        "USMALLINT",
        "UTINYINT",
    ),
}

_DDL_TYPES = {TEXT: "VARCHAR", TIMESTAMP: "TIMESTAMP", DATE: "DATE", NUMBER: "DECIMAL(18,4)"}


@dataclass(frozen=True)
class Column:
    name: str
    family: str
    ddl_type: str | None = None

    @property
    def sql_type(self) -> str:
        return self.ddl_type or _DDL_TYPES[self.family]

    def accepts(self, duckdb_type: str) -> bool:
        base = duckdb_type.upper().split("(")[0].strip()
        return base in _ACCEPTED_TYPES[self.family] or duckdb_type.upper() in _ACCEPTED_TYPES[self.family]


RAW_TABLES: dict[str, tuple[Column, ...]] = {
    "org_subscriptions": (
        Column("org_id", TEXT),
        Column("org_name", TEXT),
        Column("license_tier", TEXT),
        Column("license_type", TEXT),
        Column("billing_currency", TEXT),
        Column("effective_from", TIMESTAMP),
        Column("_loaded_at", TIMESTAMP),
    ),
    "wallboard_accounts": (
        Column("account_id", TEXT),
        Column("org_id", TEXT),
        Column("created_at", TIMESTAMP),
        Column("deleted_at", TIMESTAMP),
        Column("_loaded_at", TIMESTAMP),
    ),
    "ai_token_events": (
        Column("event_id", TEXT),
        Column("org_id", TEXT),
        Column("occurred_at", TIMESTAMP),
        Column("tokens", NUMBER, "DECIMAL(18,6)"),
        Column("ai_feature", TEXT),
        Column("_loaded_at", TIMESTAMP),
    ),
    "cases": (
        Column("case_id", TEXT),
        Column("org_id", TEXT),
        Column("created_at", TIMESTAMP),
        Column("_loaded_at", TIMESTAMP),
    ),
    "case_workitems": (
        Column("workitem_id", TEXT),
        Column("case_id", TEXT),
        Column("queue_id", TEXT),
        Column("created_at", TIMESTAMP),
        Column("completed_at", TIMESTAMP),
        Column("_loaded_at", TIMESTAMP),
    ),
    "contract_rates": (
        Column("org_id", TEXT),
        Column("feature", TEXT),
        Column("currency", TEXT),
        Column("unit_price", NUMBER),
        Column("committed_quantity", NUMBER),
        Column("valid_from", DATE),
        Column("valid_to", DATE),
        Column("_loaded_at", TIMESTAMP),
    ),
}


# Raw tables landed by `overages extract genesys` (or `overages demo`): what Genesys Cloud bills. Optional: a
# warehouse that never extracts from the API has none, and a build creates them empty
# (overages.warehouse.create_missing_optional_tables), so the six tables above stay the whole requirement.
OPTIONAL_RAW_TABLES: dict[str, tuple[Column, ...]] = {
    "genesys_billing_charges": (
        Column("contract_id", TEXT),
        Column("billing_period_id", TEXT),
        Column("period_status", TEXT),
        Column("period_start", TIMESTAMP),
        Column("period_end", TIMESTAMP),
        Column("charge_id", TEXT),
        Column("product_sku", TEXT),
        Column("product_name", TEXT),
        Column("unit_of_measure", TEXT),
        Column("org_id", TEXT),
        Column("org_name", TEXT),
        Column("prepaid_quantity", NUMBER),
        Column("fairuse_quantity", NUMBER),
        Column("actual_quantity", NUMBER),
        Column("overage_quantity", NUMBER),
        Column("overage_rate", NUMBER, "DECIMAL(18,6)"),
        Column("overage_charge", NUMBER),
        Column("overage_currency", TEXT),
        Column("_loaded_at", TIMESTAMP),
    ),
    "genesys_invoice_lines": (
        Column("invoice_id", TEXT),
        Column("line_id", TEXT),
        Column("invoice_date", TIMESTAMP),
        Column("currency", TEXT),
        Column("product_sku", TEXT),
        Column("product_name", TEXT),
        Column("description", TEXT),
        Column("org_id", TEXT),
        Column("quantity", NUMBER),
        Column("unit_of_measure", TEXT),
        Column("amount", NUMBER),
        Column("date_start", TIMESTAMP),
        Column("date_end", TIMESTAMP),
        Column("_loaded_at", TIMESTAMP),
    ),
}

ALL_RAW_TABLES: dict[str, tuple[Column, ...]] = {**RAW_TABLES, **OPTIONAL_RAW_TABLES}


def create_table_sql(table: str, *, replace: bool = True) -> str:
    """DDL for one raw table (required or optional) as the contract defines it."""
    columns = ",\n    ".join(f"{c.name} {c.sql_type}" for c in ALL_RAW_TABLES[table])
    verb = "create or replace table" if replace else "create table if not exists"
    return f"{verb} {RAW_SCHEMA}.{table} (\n    {columns}\n)"


def create_raw_schema_sql(*, replace: bool = True) -> list[str]:
    """DDL for the whole raw schema."""
    return [f"create schema if not exists {RAW_SCHEMA}"] + [
        create_table_sql(table, replace=replace) for table in RAW_TABLES
    ]
