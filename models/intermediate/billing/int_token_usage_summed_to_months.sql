{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **overages.replace_partitions_config('month_key')
    )
}}
{#
    One row per org (null for rows without one) and billing month with landed AI token events: the tokens
    of the month's sound events (rule 4), how many there are, and the latest. Whether the org is
    subscribed that month is applied downstream. Rebuilt for the months int_ai_token_events_validated
    rewrote since this model last read it; every such month has at least one row here (its events never
    disappear), so replacing its month_key partitions replaces it whole.
#}
with

events as (
    select * from {{ ref('int_ai_token_events_validated') }}
    {{ overages.months_rebuilt_since_last_read('int_ai_token_events_validated') }}
),

summed as (
    select
        org_id,
        billing_month,
        month_key,
        'ai_tokens' as feature,
        cast({{ overages.within_decimal_18_4('coalesce(sum(case when rejection_reason is null then tokens end), 0)',
            'org_id', 'billing_month', 'the AI tokens') }} as decimal(18, 4)) as usage_quantity,
        min(case when rejection_reason is null then occurred_at end) as first_occurred_at,
        sum(case when rejection_reason is null then 1 else 0 end) as sound_rows,
        max(case when rejection_reason is null then occurred_at end) as last_occurred_at,
        max(_batch_at) as _consumed_batch_at
    from events
    group by org_id, billing_month, month_key
)

select * from summed
