with

closed as (
    select * from {{ ref('int_billing_months_closed') }}
),

final as (
    select
        cast(billing_month as date) as billing_month,
        cast(close_id as {{ dbt.type_string() }}) as close_id,
        cast(closed_at as {{ dbt.type_timestamp() }}) as closed_at,
        cast(issued_by_build_id as {{ dbt.type_string() }}) as issued_by_build_id,
        cast(closed_by as {{ dbt.type_string() }}) as closed_by
    from closed
)

select * from final
