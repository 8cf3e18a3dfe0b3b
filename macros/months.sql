{# The first day of the UTC calendar month holding a timestamp or date (rule 1). #}
{% macro month_of(expr) -%}
    cast({{ dbt.date_trunc('month', expr) }} as date)
{%- endmacro %}


{# The first day of the month after the one holding a date. #}
{% macro next_month_of(expr) -%}
    cast({{ dbt.dateadd('month', 1, overages.month_of(expr)) }} as date)
{%- endmacro %}


{#
    The first month a date range starting on `expr` covers whole: the month of `expr` when it is a
    month's first day, else the next month (a contract from the 15th first applies next month).
#}
{% macro first_month_from(expr) -%}
    case
        when {{ overages.month_of(expr) }} = cast({{ expr }} as date) then {{ overages.month_of(expr) }}
        else {{ overages.next_month_of(expr) }}
    end
{%- endmacro %}


{#
    Reference rows in force for a month (rule 5): valid_from <= the month's first day < valid_to,
    an open valid_to never ending.
#}
{% macro in_force(relation_alias, month_column) -%}
    {{ relation_alias }}.valid_from <= {{ month_column }}
    and ({{ relation_alias }}.valid_to is null or {{ month_column }} < {{ relation_alias }}.valid_to)
{%- endmacro %}


{#
    The numbers 0 to 9999, as a portable relation with one column `n`, for month spines
    (no engine-specific series function, no package).
#}
{% macro integers_0_to_9999() -%}
    {%- set digits -%}
        select 0 as d union all select 1 union all select 2 union all select 3 union all select 4
        union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
    {%- endset -%}
    select units.d + 10 * tens.d + 100 * hundreds.d + 1000 * thousands.d as n
    from ({{ digits }}) as units
    cross join ({{ digits }}) as tens
    cross join ({{ digits }}) as hundreds
    cross join ({{ digits }}) as thousands
{%- endmacro %}


{#
    Whether a usage row's month is billed for its org (rule 9's no_subscription and
    no_reference_data): the org's first accepted subscription took effect before the next month started, and
    the month is not before the reference data begins. int_orgs_subscribed.first_billing_month holds both
    (the later of the org's first subscribed month and the reference data's first month). Pass the columns
    of a left join to int_orgs_subscribed: an org missing there was never subscribed.
#}
{% macro is_billed_month(billing_month, first_billing_month) -%}
    ({{ first_billing_month }} is not null and {{ billing_month }} >= {{ first_billing_month }})
{%- endmacro %}


{#
    The build's as-of instant (rule 11), as 'YYYY-MM-DD HH:MM:SS[.ffffff]' UTC text: the var as_of when
    given (dbt run by hand), else the CLI's --as-of (OVERAGES_AS_OF, read only while models run), else the
    instant dbt started (run_started_at). Never a var from the CLI, nor read while parsing: a value that
    changes from build to build would make dbt parse the whole project again.
#}
{% macro as_of_text() -%}
    {%- set given = var('as_of', '') -%}
    {%- if not given and execute -%}
        {%- set given = env_var('OVERAGES_AS_OF', '') -%}
    {%- endif -%}
    {%- if given -%}
        {{ return(given | string | trim) }}
    {%- endif -%}
    {{ return(run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f')) }}
{%- endmacro %}

{% macro as_of() -%}
    cast('{{ overages.as_of_text() }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
