{#
    Quantities that can be billed (rule 9, invalid_quantity): a tokens, unit_price or committed_quantity value outside
    [-1,000,000,000, 1,000,000,000] or not a finite number (NaN, infinity) can never be billed, and a DOUBLE
    NaN or 1e20 would fail a DECIMAL cast and the whole build with it. Staging turns such a value into null
    (rejected as invalid_quantity, like a null) after comparing it as a double, so that the decimal cast
    only ever sees values it can hold. NaN compares greater than every number on DuckDB and Spark alike,
    so the range test excludes it, and both infinities, on both engines. A value already decimal is cast
    from itself, not through the double, so it keeps its digits.
#}
{% macro max_billable_quantity() -%}1000000000{%- endmacro %}

{% macro billable_decimal(column, decimal_type) -%}
    case
        when cast({{ column }} as double) >= -{{ overages.max_billable_quantity() }}
            and cast({{ column }} as double) <= {{ overages.max_billable_quantity() }}
            then cast({{ column }} as {{ decimal_type }})
    end
{%- endmacro %}


{#
    A raw value that is there but can never be billed (NaN, an infinity, beyond max_billable_quantity either way):
    billable_decimal makes it null, and this says it was not null to begin with.
#}
{% macro is_unbillable(column) -%}
    ({{ column }} is not null and not (
        cast({{ column }} as double) >= -{{ overages.max_billable_quantity() }}
        and cast({{ column }} as double) <= {{ overages.max_billable_quantity() }}
    ))
{%- endmacro %}


{#
    A quantity's fault (rule 9): null (staging's null included), negative, or above the limit.
#}
{% macro is_invalid_quantity(column) -%}
    ({{ column }} is null or {{ column }} < 0 or {{ column }} > {{ overages.max_billable_quantity() }})
{%- endmacro %}


{#
    `expr` unchanged, or the query stops where it exceeds the marts' decimal(18,4) (many events near the limit
    in one month), with one line naming the org and month (rule 12). Used in the models that compute the
    figures, which every mart and audit table depends on: the build stops before it writes any of them.
#}
{% macro within_decimal_18_4(expr, org_id, billing_month, what) -%}
    case
        when abs({{ expr }}) > 99999999999999.9999
            then {{ overages.raise_error(dbt.concat([
                "'" ~ what ~ " of org '", "coalesce(" ~ org_id ~ ", 'null')", "' in billing month '",
                "cast(" ~ billing_month ~ " as " ~ dbt.type_string() ~ ")",
                "' exceed decimal(18,4): reject or correct its rows, then build again'"
            ])) }}
        else {{ expr }}
    end
{%- endmacro %}


{# Stop the query with a message (a text expression) in the row that reaches it; typed as the other branch. #}
{% macro raise_error(message) -%}
    {{ return(adapter.dispatch('raise_error', 'overages')(message)) }}
{%- endmacro %}

{% macro default__raise_error(message) -%}
    raise_error({{ message }})
{%- endmacro %}

{% macro duckdb__raise_error(message) -%}
    error({{ message }})
{%- endmacro %}
