{#
    The orgs that have at least one accepted subscription row, and since when. Rule 3 and the
    no_subscription checks see only accepted rows: a rejected row is never in force.
#}
with

subscriptions as (
    select * from {{ ref('int_org_subscriptions_validated') }}
    where rejection_reason is null
),

first_subscribed as (
    select
        org_id,
        min(effective_from) as first_subscribed_at
    from subscriptions
    group by org_id
),

with_first_month as (
    select
        org_id,
        first_subscribed_at,
        {{ overages.month_of('first_subscribed_at') }} as first_billing_month
    from first_subscribed
)

select * from with_first_month
