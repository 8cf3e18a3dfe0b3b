{#
    Every landed AI token event with its verdict (rejection_reason null = accepted) and billing month.
#}
with

events as (
    select * from {{ ref('stg_genesys__ai_token_events') }}
),

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

ranked_by_landing as (
    select
        *,
        {{ overages.landing_rank(['event_id'], ['org_id', 'occurred_at', 'tokens', 'ai_feature']) }} as landing_rank
    from events
),

validated as (
    select
        ranked_by_landing.event_id,
        ranked_by_landing.org_id,
        ranked_by_landing.occurred_at,
        {{ overages.month_of('ranked_by_landing.occurred_at') }} as billing_month,
        ranked_by_landing.tokens,
        ranked_by_landing.ai_feature,
        ranked_by_landing._loaded_at,
        ranked_by_landing.event_id as record_id,
        case
            when ranked_by_landing.event_id is null then 'missing_id'
            when ranked_by_landing.landing_rank > 1 then 'duplicate'
            when ranked_by_landing.org_id is null then 'missing_org'
            when ranked_by_landing.occurred_at is null then 'missing_timestamp'
            when ranked_by_landing.tokens is null or ranked_by_landing.tokens < 0 then 'invalid_quantity'
            when orgs_subscribed.org_id is null
                or orgs_subscribed.first_subscribed_at >= {{ overages.next_month_of('ranked_by_landing.occurred_at') }}
                then 'no_subscription'
        end as rejection_reason
    from ranked_by_landing
    left join orgs_subscribed
        on ranked_by_landing.org_id = orgs_subscribed.org_id
)

select * from validated
