{#
    rule 10, one row per raw table: rows landed = rows accepted + rows rejected. Each figure is
    counted on its own: landed from the models that keep every landed row, accepted from what the marts
    use, rejected from audit.rejected_rows. The singular test assert_nothing_lost also recounts the raw
    tables themselves on every build.
#}
with

rejected_rows as (
    select * from {{ ref('rejected_rows') }}
),

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

landed_counts as (
    {%- for source_table, model in overages.validated_models().items() %}
    select '{{ source_table }}' as source_table, count(*) as rows_landed from {{ ref(model) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

accepted_counts as (
    {%- for source_table in [
        'org_subscriptions', 'wallboard_accounts', 'contract_rates', 'genesys_billing_charges', 'genesys_invoice_lines'
    ] %}
    select '{{ source_table }}' as source_table, count(*) as rows_accepted
    from {{ ref(overages.validated_models()[source_table]) }}
    where rejection_reason is null
    union all
    {%- endfor %}
    select 'ai_token_events', coalesce(sum(token_usage.sound_rows), 0)
    from {{ ref('int_token_usage_summed_to_months') }} as token_usage
    inner join orgs_subscribed
        on token_usage.org_id = orgs_subscribed.org_id
    where {{ overages.is_billed_month('token_usage.billing_month', 'orgs_subscribed.first_billing_month') }}
    union all
    select 'cases', coalesce(sum(case_counts.sound_rows), 0)
    from {{ ref('int_cases_counted_to_months') }} as case_counts
    inner join orgs_subscribed
        on case_counts.org_id = orgs_subscribed.org_id
    where {{ overages.is_billed_month('case_counts.billing_month', 'orgs_subscribed.first_billing_month') }}
    union all
    {# Sound workitems are accepted unless their case is not (unknown_case): no second join of the largest table. #}
    select
        'case_workitems',
        (select count(*) from {{ ref('int_case_workitems_validated') }} where rejection_reason is null)
        - (select count(*) from {{ ref('int_case_workitems_rejected') }} where reason = 'unknown_case')
),

rejected_counts as (
    select
        source_table,
        count(*) as rows_rejected
    from rejected_rows
    group by source_table
),

final as (
    select
        cast(landed_counts.source_table as {{ dbt.type_string() }}) as source_table,
        cast(landed_counts.rows_landed as bigint) as rows_landed,
        cast(coalesce(accepted_counts.rows_accepted, 0) as bigint) as rows_accepted,
        cast(coalesce(rejected_counts.rows_rejected, 0) as bigint) as rows_rejected,
        landed_counts.rows_landed
        = coalesce(accepted_counts.rows_accepted, 0) + coalesce(rejected_counts.rows_rejected, 0) as is_balanced
    from landed_counts
    left join accepted_counts
        on landed_counts.source_table = accepted_counts.source_table
    left join rejected_counts
        on landed_counts.source_table = rejected_counts.source_table
)

select * from final
