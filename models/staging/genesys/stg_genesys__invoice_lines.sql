{#
    Genesys's invoice lines as landed; a quantity or amount no decimal holds (NaN, 1e20) is null here, so rule 9
    rejects its line as invalid_quantity and the build goes on.
#}
with

source as (
    select * from {{ source('genesys', 'genesys_invoice_lines') }}
),

renamed as (
    select
        {{ overages.clean_id('invoice_id') }} as invoice_id,
        {{ overages.clean_id('line_id') }} as line_id,
        cast(invoice_date as {{ dbt.type_timestamp() }}) as invoice_date,
        {{ overages.clean_upper_code('currency') }} as currency,
        {{ overages.clean_upper_code('product_sku') }} as product_sku,
        {{ overages.clean_id('product_name') }} as product_name,
        {{ overages.clean_id('description') }} as description,
        {{ overages.clean_id('org_id') }} as org_id,
        {{ overages.billable_decimal('quantity', 'decimal(18, 4)') }} as quantity,
        {{ overages.clean_id('unit_of_measure') }} as unit_of_measure,
        {{ overages.billable_decimal('amount', 'decimal(18, 4)') }} as amount,
        cast(date_start as {{ dbt.type_timestamp() }}) as date_start,
        cast(date_end as {{ dbt.type_timestamp() }}) as date_end,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from source
)

select * from renamed
