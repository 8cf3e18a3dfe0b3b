{#
    Money arithmetic. Amounts are decimals end to end, never floats.
#}

{#
    The product of a quantity and a unit price, exact to 8 decimal places. DuckDB types
    decimal(18,4) * decimal(18,4) as decimal(18,8), which overflows past ten integer digits, so it
    widens one side first; Spark caps precision at 38, so it must not be widened there.
#}
{% macro multiply_decimals(quantity, unit_price) -%}
    {{ return(adapter.dispatch('multiply_decimals', 'overages')(quantity, unit_price)) }}
{%- endmacro %}

{% macro default__multiply_decimals(quantity, unit_price) -%}
    (cast({{ quantity }} as decimal(18, 4)) * cast({{ unit_price }} as decimal(18, 4)))
{%- endmacro %}

{% macro duckdb__multiply_decimals(quantity, unit_price) -%}
    (cast({{ quantity }} as decimal(28, 4)) * cast({{ unit_price }} as decimal(18, 4)))
{%- endmacro %}


{#
    Round an amount to its currency's minor units, halves away from zero (rule 8).
    Engines want a constant number of places for a decimal round, so each minor-unit count the
    reference data can hold gets its own branch, each cast on its own: a CASE over decimals of
    different scales takes the smallest scale in DuckDB and would round a second time. An unexpected
    count yields null, which the marts' not_null tests catch.
#}
{% macro round_to_minor_units(amount, minor_units) -%}
    case {{ minor_units }}
        when 0 then cast(round({{ amount }}, 0) as decimal(18, 4))
        when 2 then cast(round({{ amount }}, 2) as decimal(18, 4))
        when 3 then cast(round({{ amount }}, 3) as decimal(18, 4))
    end
{%- endmacro %}


{# rule 6: what is used beyond the free allocation; allocations never roll over. #}
{% macro overage_quantity(usage_quantity, free_allocation) -%}
    greatest({{ usage_quantity }} - {{ free_allocation }}, 0)
{%- endmacro %}
