{#
    The billing periods' charges as landed; a figure no decimal holds (NaN, 1e20) is null here and flagged in
    has_unbillable_quantity, so rule 9 rejects its row as invalid_quantity and the build goes on.
#}
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
        {{ overages.billable_decimal('prepaid_quantity', 'decimal(18, 4)') }} as prepaid_quantity,
        {{ overages.billable_decimal('fairuse_quantity', 'decimal(18, 4)') }} as fairuse_quantity,
        {{ overages.billable_decimal('actual_quantity', 'decimal(18, 4)') }} as actual_quantity,
        {{ overages.billable_decimal('overage_quantity', 'decimal(18, 4)') }} as overage_quantity,
        {{ overages.billable_decimal('overage_rate', 'decimal(18, 6)') }} as overage_rate,
        {{ overages.billable_decimal('overage_charge', 'decimal(18, 4)') }} as overage_charge,
        {{ overages.clean_upper_code('overage_currency') }} as overage_currency,
        (
            {{ overages.is_unbillable('prepaid_quantity') }}
            or {{ overages.is_unbillable('fairuse_quantity') }}
            or {{ overages.is_unbillable('actual_quantity') }}
            or {{ overages.is_unbillable('overage_quantity') }}
            or {{ overages.is_unbillable('overage_rate') }}
            or {{ overages.is_unbillable('overage_charge') }}
        ) as has_unbillable_quantity,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from source
)

select * from renamed
