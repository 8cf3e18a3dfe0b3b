{#- Written only once every month's figures fit the marts' decimals (rule 12: int_monthly_overages_priced
    stops the build otherwise), so that such a build leaves this table as the previous build left it. #}
-- depends_on: {{ ref('int_monthly_overages_priced') }}
with

org_months as (
    select * from {{ ref('int_org_months_subscribed') }}
),

final as (
    select
        cast(org_id as {{ dbt.type_string() }}) as org_id,
        cast(billing_month as date) as billing_month,
        cast(org_name as {{ dbt.type_string() }}) as org_name,
        cast(license_tier as {{ dbt.type_string() }}) as license_tier,
        cast(license_type as {{ dbt.type_string() }}) as license_type,
        cast(billing_currency as {{ dbt.type_string() }}) as billing_currency,
        cast(subscription_effective_from as {{ dbt.type_timestamp() }}) as subscription_effective_from
    from org_months
)

select * from final
