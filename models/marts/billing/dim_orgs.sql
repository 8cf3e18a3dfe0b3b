{#- Written only once every month's figures fit the marts' decimals (rule 12: int_monthly_overages_priced
    stops the build otherwise), so that such a build leaves this table as the previous build left it. #}
-- depends_on: {{ ref('int_monthly_overages_priced') }}
with

org_months as (
    select * from {{ ref('int_org_months_subscribed') }}
),

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

latest_month_ranked as (
    select
        *,
        row_number() over (partition by org_id order by billing_month desc) as recency_rank
    from org_months
),

current_subscription as (
    select
        latest_month_ranked.org_id,
        latest_month_ranked.org_name,
        latest_month_ranked.license_tier,
        latest_month_ranked.license_type,
        latest_month_ranked.billing_currency,
        latest_month_ranked.subscription_effective_from,
        latest_month_ranked.billing_month as latest_billing_month
    from latest_month_ranked
    where latest_month_ranked.recency_rank = 1
),

final as (
    select
        cast(orgs_subscribed.org_id as {{ dbt.type_string() }}) as org_id,
        cast(current_subscription.org_name as {{ dbt.type_string() }}) as org_name,
        cast(current_subscription.license_tier as {{ dbt.type_string() }}) as license_tier,
        cast(current_subscription.license_type as {{ dbt.type_string() }}) as license_type,
        cast(current_subscription.billing_currency as {{ dbt.type_string() }}) as billing_currency,
        cast(current_subscription.subscription_effective_from as {{ dbt.type_timestamp() }})
            as subscription_effective_from,
        cast(orgs_subscribed.first_subscribed_at as {{ dbt.type_timestamp() }}) as first_subscribed_at,
        cast(orgs_subscribed.first_billing_month as date) as first_billing_month,
        cast(current_subscription.latest_billing_month as date) as latest_billing_month
    from orgs_subscribed
    left join current_subscription
        on orgs_subscribed.org_id = current_subscription.org_id
)

select * from final
