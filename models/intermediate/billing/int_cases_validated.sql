{#
    Every landed case with its verdict (rejection_reason null = accepted) and billing month.
#}
with

cases as (
    select * from {{ ref('stg_genesys__cases') }}
),

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

ranked_by_landing as (
    select
        *,
        {{ overages.landing_rank(['case_id'], ['org_id', 'created_at']) }} as landing_rank
    from cases
),

validated as (
    select
        ranked_by_landing.case_id,
        ranked_by_landing.org_id,
        ranked_by_landing.created_at,
        {{ overages.month_of('ranked_by_landing.created_at') }} as billing_month,
        ranked_by_landing._loaded_at,
        ranked_by_landing.case_id as record_id,
        ranked_by_landing.landing_rank,
        case
            when ranked_by_landing.case_id is null then 'missing_id'
            when ranked_by_landing.landing_rank > 1 then 'duplicate'
            when ranked_by_landing.org_id is null then 'missing_org'
            when ranked_by_landing.created_at is null then 'missing_timestamp'
            when orgs_subscribed.org_id is null
                or orgs_subscribed.first_subscribed_at >= {{ overages.next_month_of('ranked_by_landing.created_at') }}
                then 'no_subscription'
        end as rejection_reason
    from ranked_by_landing
    left join orgs_subscribed
        on ranked_by_landing.org_id = orgs_subscribed.org_id
)

select * from validated
