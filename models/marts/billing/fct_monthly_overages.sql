with

priced as (
    select * from {{ ref('int_monthly_overages_priced') }}
),

final as (
    select
        cast(org_id as {{ dbt.type_string() }}) as org_id,
        cast(billing_month as date) as billing_month,
        cast(feature as {{ dbt.type_string() }}) as feature,
        cast(license_tier as {{ dbt.type_string() }}) as license_tier,
        cast(license_type as {{ dbt.type_string() }}) as license_type,
        cast(billing_currency as {{ dbt.type_string() }}) as billing_currency,
        cast(usage_quantity as decimal(18, 4)) as usage_quantity,
        cast(free_allocation as decimal(18, 4)) as free_allocation,
        cast(overage_quantity as decimal(18, 4)) as overage_quantity,
        cast(committed_quantity as decimal(18, 4)) as committed_quantity,
        cast(billed_quantity as decimal(18, 4)) as billed_quantity,
        cast(unit_price as decimal(18, 4)) as unit_price,
        cast(price_source as {{ dbt.type_string() }}) as price_source,
        cast(overage_amount as decimal(18, 4)) as overage_amount,
        cast(list_amount_usd as decimal(18, 4)) as list_amount_usd,
        cast(invoice_code as {{ dbt.type_string() }}) as invoice_code
    from priced
)

select * from final
