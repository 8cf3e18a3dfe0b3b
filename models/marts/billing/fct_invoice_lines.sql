with

monthly_overages as (
    select * from {{ ref('fct_monthly_overages') }}
),

features as (
    select * from {{ ref('ref_features') }}
),

billed as (
    select
        monthly_overages.*,
        features.product_feature,
        features.unit
    from monthly_overages
    inner join features
        on monthly_overages.feature = features.feature
        and {{ overages.in_force('features', 'monthly_overages.billing_month') }}
    where monthly_overages.billed_quantity > 0
),

lines as (
    select
        cast(org_id as {{ dbt.type_string() }}) as org_id,
        cast(billing_month as date) as billing_month,
        cast(feature as {{ dbt.type_string() }}) as feature,
        cast(invoice_code as {{ dbt.type_string() }}) as invoice_code,
        cast(
            {{ dbt.concat([
                "product_feature",
                "case when price_source = 'contract' then ' committed overage tier, ' else ' overage, ' end",
                "cast(billing_month as " ~ dbt.type_string() ~ ")",
            ]) }}
            as {{ dbt.type_string() }}
        ) as description,
        cast(billed_quantity as decimal(18, 4)) as quantity,
        cast(unit as {{ dbt.type_string() }}) as unit,
        cast(unit_price as decimal(18, 4)) as unit_price,
        cast(overage_amount as decimal(18, 4)) as amount,
        cast(billing_currency as {{ dbt.type_string() }}) as currency,
        cast(price_source as {{ dbt.type_string() }}) as price_source
    from billed
)

select * from lines
