{#
    Every landed wallboard account with its verdict (rejection_reason null = accepted). An account is
    active on [created_at, deleted_at): one deleted at the instant it was created is accepted but never
    active; one deleted by the month the reference data begins is no_reference_data (rule 9), even when it
    was never active.
#}
with

accounts as (
    select * from {{ ref('stg_genesys__wallboard_accounts') }}
),

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

reference_start as (
    select * from {{ ref('int_reference_data_start') }}
),

ranked_by_landing as (
    select
        *,
        {{ overages.landing_rank(['account_id'], ['org_id', 'created_at', 'deleted_at']) }} as landing_rank
    from accounts
),

validated as (
    select
        ranked_by_landing.account_id,
        ranked_by_landing.org_id,
        ranked_by_landing.created_at,
        ranked_by_landing.deleted_at,
        ranked_by_landing._loaded_at,
        ranked_by_landing.account_id as record_id,
        case
            when ranked_by_landing.account_id is null then 'missing_id'
            when ranked_by_landing.landing_rank > 1 then 'duplicate'
            when ranked_by_landing.org_id is null then 'missing_org'
            when ranked_by_landing.created_at is null then 'missing_timestamp'
            when ranked_by_landing.deleted_at < ranked_by_landing.created_at then 'invalid_interval'
            {#- Deleted by the first instant of the reference data: active, if ever, only before it (rules 1 and 9). #}
            when ranked_by_landing.deleted_at <= reference_start.first_billing_instant then 'no_reference_data'
            when orgs_subscribed.org_id is null then 'no_subscription'
        end as rejection_reason
    from ranked_by_landing
    cross join reference_start
    left join orgs_subscribed
        on ranked_by_landing.org_id = orgs_subscribed.org_id
)

select * from validated
