{#
    rule 10, checked on every build: for every raw table, the rows landed (counted in the raw table
    itself) are all kept by the warehouse (one row each in the model that validates them: an incremental
    build must neither lose nor repeat one) and equal the rows accepted plus the rows in
    audit.rejected_rows. Returns the tables that do not balance.
#}
with

{% for source_table, model in overages.validated_models().items() %}
{{ source_table }}_balance as (
    select
        '{{ source_table }}' as source_table,
        (select count(*) from {{ source('genesys', source_table) }}) as rows_in_raw,
        (select count(*) from {{ ref(model) }}) as rows_kept,
        (
            select rows_accepted from {{ ref('raw_reconciliation') }}
            where source_table = '{{ source_table }}'
        ) as rows_accepted,
        (
            select count(*) from {{ ref('rejected_rows') }}
            where source_table = '{{ source_table }}'
        ) as rows_rejected
),

{% endfor %}
balances as (
    {%- for source_table in overages.validated_models() %}
    select * from {{ source_table }}_balance
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select *
from balances
where rows_in_raw <> rows_kept
    or rows_in_raw <> rows_accepted + rows_rejected
