{#
    Invoices: the numbers they carry, and the state of closed months that must outlive every rebuild.
#}

{#
    An invoice's number, from its org and billing month alone: 'OV-202610-' and the first 16 hex digits
    of the org id's MD5, upper case. Deterministic, so a draft's number is the number it is issued
    under, a full refresh cannot renumber anything, and both engines agree. An issued invoice keeps the
    number stored with it in audit.invoices_issued whatever this macro becomes.
#}
{% macro invoice_number(org_id, billing_month) -%}
    {{ dbt.concat([
        "'OV-'",
        "replace(substring(cast(" ~ billing_month ~ " as " ~ dbt.type_string() ~ "), 1, 7), '-', '')",
        "'-'",
        "upper(substring(" ~ dbt.hash(org_id) ~ ", 1, 16))",
    ]) }}
{%- endmacro %}


{#
    The tables that hold closed months (written by `overages close` and `overages reopen`, never by
    dbt): created empty when absent, at the start of every build, so that models can read them as a
    source on a fresh warehouse. dbt never drops them, not even on --full-refresh: they are not models.
    Read-only invocations (docs, compile) leave the warehouse alone.
#}
{% macro create_billing_state_tables() -%}
    {%- if execute and flags.WHICH in ('build', 'run', 'test', 'seed') and target.name != 'duckdb_read_only' -%}
        {%- set string = dbt.type_string() -%}
        {%- set timestamp = dbt.type_timestamp() -%}
        {%- do run_query('create schema if not exists audit') -%}
        {%- do run_query(overages.create_table_if_absent('audit.month_close_events', [
            ('event_id', string), ('billing_month', 'date'), ('action', string), ('recorded_at', timestamp),
            ('build_id', string), ('reason', string), ('recorded_by', string),
        ])) -%}
        {%- do run_query(overages.create_table_if_absent('audit.invoices_issued', [
            ('close_id', string), ('invoice_number', string), ('org_id', string), ('org_name', string),
            ('billing_month', 'date'), ('line_type', string), ('feature', string), ('invoice_code', string),
            ('description', string), ('usage_quantity', 'decimal(18, 4)'), ('free_allocation', 'decimal(18, 4)'),
            ('quantity', 'decimal(18, 4)'), ('unit', string), ('unit_price', 'decimal(18, 4)'),
            ('list_unit_price', 'decimal(18, 4)'), ('amount', 'decimal(18, 4)'), ('currency', string),
            ('price_source', string), ('adjusted_invoice_number', string), ('adjusted_billing_month', 'date'),
            ('adjustment_reason', string), ('issued_at', timestamp), ('build_id', string),
        ])) -%}
    {%- endif -%}
    select 1
{%- endmacro %}


{% macro create_table_if_absent(relation, columns) -%}
    {{ return(adapter.dispatch('create_table_if_absent', 'overages')(relation, columns)) }}
{%- endmacro %}

{% macro default__create_table_if_absent(relation, columns) -%}
    create table if not exists {{ relation }} (
        {%- for name, data_type in columns %}
        {{ name }} {{ data_type }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{# Spark: parquet, like every other table here (Delta's jars are not reachable). #}
{% macro spark__create_table_if_absent(relation, columns) -%}
    {{ overages.default__create_table_if_absent(relation, columns) }} using parquet
{%- endmacro %}
