with

source as (
    select * from {{ source('billing_state', 'invoices_issued') }}
),

renamed as (
    select
        cast(close_id as {{ dbt.type_string() }}) as close_id,
        cast(invoice_number as {{ dbt.type_string() }}) as invoice_number,
        cast(org_id as {{ dbt.type_string() }}) as org_id,
        cast(org_name as {{ dbt.type_string() }}) as org_name,
        cast(billing_month as date) as billing_month,
        cast(line_type as {{ dbt.type_string() }}) as line_type,
        cast(feature as {{ dbt.type_string() }}) as feature,
        cast(invoice_code as {{ dbt.type_string() }}) as invoice_code,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(usage_quantity as decimal(18, 4)) as usage_quantity,
        cast(free_allocation as decimal(18, 4)) as free_allocation,
        cast(quantity as decimal(18, 4)) as quantity,
        cast(unit as {{ dbt.type_string() }}) as unit,
        cast(unit_price as decimal(18, 4)) as unit_price,
        cast(list_unit_price as decimal(18, 4)) as list_unit_price,
        cast(amount as decimal(18, 4)) as amount,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(price_source as {{ dbt.type_string() }}) as price_source,
        cast(adjusted_invoice_number as {{ dbt.type_string() }}) as adjusted_invoice_number,
        cast(adjusted_billing_month as date) as adjusted_billing_month,
        cast(adjustment_reason as {{ dbt.type_string() }}) as adjustment_reason,
        cast(issued_at as {{ dbt.type_timestamp() }}) as issued_at,
        cast(build_id as {{ dbt.type_string() }}) as build_id
    from source
)

select * from renamed
