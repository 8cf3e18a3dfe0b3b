{# One row per org and billing month with accepted AI token events: the tokens consumed (SPEC rule 4). #}
with

events as (
    select * from {{ ref('int_ai_token_events_validated') }}
    where rejection_reason is null
),

summed as (
    select
        org_id,
        billing_month,
        'ai_tokens' as feature,
        cast(sum(tokens) as decimal(18, 4)) as usage_quantity
    from events
    group by org_id, billing_month
)

select * from summed
