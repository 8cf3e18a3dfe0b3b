{#
    rule 9: every landed row that cannot be used, with the first of its faults.
#}
{%- set sources = overages.rejection_sources() -%}
{#- Written only once every month's figures fit the marts' decimals (rule 12: int_monthly_overages_priced
    stops the build otherwise), so that such a build leaves this table as the previous build left it. #}
-- depends_on: {{ ref('int_monthly_overages_priced') }}

with

{% for source_table, source in sources.items() %}
{{ source_table }} as (
    select
        '{{ source_table }}' as source_table,
        record_id,
        org_id,
        {{ source.reason }} as reason,
        _loaded_at
    from {{ ref(source.model) }}
    where {{ source.reason }} is not null
),

{% endfor %}
unioned as (
    {%- for source_table in sources %}
    select * from {{ source_table }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        cast(source_table as {{ dbt.type_string() }}) as source_table,
        cast(record_id as {{ dbt.type_string() }}) as record_id,
        cast(org_id as {{ dbt.type_string() }}) as org_id,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from unioned
)

select * from final
