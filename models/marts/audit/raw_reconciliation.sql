{#
    SPEC rule 10, one row per raw table: rows landed = rows accepted + rows rejected. The singular test
    assert_nothing_lost compares these counts with the raw tables themselves on every build.
#}
{%- set validated_models = overages.validated_models() -%}

with

rejected_rows as (
    select * from {{ ref('rejected_rows') }}
),

rejected_counts as (
    select
        source_table,
        count(*) as rows_rejected
    from rejected_rows
    group by source_table
),

validated_counts as (
    {%- for source_table, model in validated_models.items() %}
    select
        '{{ source_table }}' as source_table,
        count(*) as rows_landed,
        sum(case when rejection_reason is null then 1 else 0 end) as rows_accepted
    from {{ ref(model) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

final as (
    select
        cast(validated_counts.source_table as {{ dbt.type_string() }}) as source_table,
        cast(validated_counts.rows_landed as bigint) as rows_landed,
        cast(coalesce(validated_counts.rows_accepted, 0) as bigint) as rows_accepted,
        cast(coalesce(rejected_counts.rows_rejected, 0) as bigint) as rows_rejected,
        validated_counts.rows_landed
            = coalesce(validated_counts.rows_accepted, 0) + coalesce(rejected_counts.rows_rejected, 0)
            as is_balanced
    from validated_counts
    left join rejected_counts
        on validated_counts.source_table = rejected_counts.source_table
)

select * from final
