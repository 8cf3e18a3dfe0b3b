with

source as (
    select * from {{ source('genesys', 'genesys_billing_charges') }}
),

renamed as (
    select
        {{ overages.clean_id('contract_id') }} as contract_id,
        {{ overages.clean_id('billing_period_id') }} as billing_period_id,
        {{ overages.clean_id('period_status') }} as period_status,
        cast(period_start as {{ dbt.type_timestamp() }}) as period_start,
        cast(period_end as {{ dbt.type_timestamp() }}) as period_end,
        {{ overages.clean_id('charge_id') }} as charge_id,
        {{ overages.clean_upper_code('product_sku') }} as product_sku,
        {{ overages.clean_id('product_name') }} as product_name,
        {{ overages.clean_id('unit_of_measure') }} as unit_of_measure,
        {{ overages.clean_id('org_id') }} as org_id,
        {{ overages.clean_id('org_name') }} as org_name,
        cast(prepaid_quantity as decimal(18, 4)) as prepaid_quantity,
        cast(fairuse_quantity as decimal(18, 4)) as fairuse_quantity,
        cast(actual_quantity as decimal(18, 4)) as actual_quantity,
        cast(overage_quantity as decimal(18, 4)) as overage_quantity,
        cast(overage_rate as decimal(18, 6)) as overage_rate,
        cast(overage_charge as decimal(18, 4)) as overage_charge,
        {{ overages.clean_upper_code('overage_currency') }} as overage_currency,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from source
)

select * from renamed
