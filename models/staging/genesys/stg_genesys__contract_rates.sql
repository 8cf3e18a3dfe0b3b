with

source as (
    select * from {{ source('genesys', 'contract_rates') }}
),

renamed as (
    select
        {{ overages.clean_id('org_id') }} as org_id,
        {{ overages.clean_code('feature') }} as feature,
        {{ overages.clean_upper_code('currency') }} as currency,
        {{ overages.billable_decimal('unit_price', 'decimal(18, 4)') }} as unit_price,
        {{ overages.billable_decimal('committed_quantity', 'decimal(18, 4)') }} as committed_quantity,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from source
)

select * from renamed
