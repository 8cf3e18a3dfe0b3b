{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **overages.replace_partitions_config('month_key')
    )
}}
{#
    One row per org (null for rows without one) and billing month with landed cases: the sound cases
    created in the month (rule 4) and the latest. Whether the org is subscribed that month is applied
    downstream. Rebuilt like int_token_usage_summed_to_months.
#}
with

cases as (
    select * from {{ ref('int_cases_validated') }}
    {{ overages.months_rebuilt_since_last_read('int_cases_validated') }}
),

counted as (
    select
        org_id,
        billing_month,
        month_key,
        'case_management' as feature,
        cast(sum(case when rejection_reason is null then 1 else 0 end) as decimal(18, 4)) as usage_quantity,
        sum(case when rejection_reason is null then 1 else 0 end) as sound_rows,
        min(case when rejection_reason is null then created_at end) as first_occurred_at,
        max(case when rejection_reason is null then created_at end) as last_occurred_at,
        max(_batch_at) as _consumed_batch_at
    from cases
    group by org_id, billing_month, month_key
)

select * from counted
