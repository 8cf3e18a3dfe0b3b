{#
    The orgs that have at least one accepted subscription row, since when, and their first billing month:
    the month of that row, or the month the reference data begins where the row is older (rules 1 and 3). Rule 3
    and the no_subscription checks see only accepted rows: a rejected row is never in force.
#}
with

subscriptions as (
    select * from {{ ref('int_org_subscriptions_validated') }}
    where rejection_reason is null
),

reference_start as (
    select * from {{ ref('int_reference_data_start') }}
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
        greatest({{ overages.month_of('first_subscribed_at') }}, reference_start.first_billing_month)
            as first_billing_month
    from first_subscribed
    cross join reference_start
)

select * from with_first_month
