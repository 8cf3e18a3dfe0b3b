{#
    One row per org and billing month, from the org's first month with an accepted subscription to the
    horizon, with the subscription in force at the month's last instant (rule 3): the accepted row
    with the latest effective_from before the next month starts. No proration: a change mid-month
    holds for the whole month.
#}
with

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

subscriptions as (
    select * from {{ ref('int_org_subscriptions_validated') }}
    where rejection_reason is null
),

horizon as (
    select * from {{ ref('int_billing_horizon') }}
),

month_offsets as (
    {{ overages.integers_0_to_9999() }}
),

org_months as (
    select
        orgs_subscribed.org_id,
        cast({{ dbt.dateadd('month', 'month_offsets.n', 'orgs_subscribed.first_billing_month') }} as date)
            as billing_month
    from orgs_subscribed
    cross join horizon
    inner join month_offsets
        on month_offsets.n <= {{ dbt.datediff(
            'orgs_subscribed.first_billing_month', 'horizon.horizon_month', 'month'
        ) }}
),

subscriptions_in_force_ranked as (
    select
        org_months.org_id,
        org_months.billing_month,
        subscriptions.org_name,
        subscriptions.license_tier,
        subscriptions.license_type,
        subscriptions.billing_currency,
        subscriptions.effective_from,
        row_number() over (
            partition by org_months.org_id, org_months.billing_month
            order by subscriptions.effective_from desc
        ) as recency_rank
    from org_months
    inner join subscriptions
        on org_months.org_id = subscriptions.org_id
        and subscriptions.effective_from < {{ overages.next_month_of('org_months.billing_month') }}
),

subscription_of_month as (
    select
        org_id,
        billing_month,
        org_name,
        license_tier,
        license_type,
        billing_currency,
        effective_from as subscription_effective_from
    from subscriptions_in_force_ranked
    where recency_rank = 1
)

select * from subscription_of_month
