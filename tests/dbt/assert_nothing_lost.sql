{#
    SPEC rule 10, checked on every build: for every raw table, the rows landed (counted in the raw table
    itself) equal the rows accepted plus the rows in audit.rejected_rows. Returns the tables that do not
    balance.
#}
{%- set validated_models = overages.validated_models() -%}

with

{% for source_table, model in validated_models.items() %}
{{ source_table }}_balance as (
    select
        '{{ source_table }}' as source_table,
        (select count(*) from {{ source('genesys', source_table) }}) as rows_landed,
        (select count(*) from {{ ref(model) }} where rejection_reason is null) as rows_accepted,
        (
            select count(*) from {{ ref('rejected_rows') }}
            where source_table = '{{ source_table }}'
        ) as rows_rejected
),

{% endfor %}
balances as (
    {%- for source_table in validated_models %}
    select * from {{ source_table }}_balance
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select *
from balances
where rows_landed <> rows_accepted + rows_rejected
