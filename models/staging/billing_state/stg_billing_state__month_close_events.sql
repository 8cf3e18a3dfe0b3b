with

source as (
    select * from {{ source('billing_state', 'month_close_events') }}
),

renamed as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(billing_month as date) as billing_month,
        cast(action as {{ dbt.type_string() }}) as action,
        cast(recorded_at as {{ dbt.type_timestamp() }}) as recorded_at,
        cast(build_id as {{ dbt.type_string() }}) as build_id,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(recorded_by as {{ dbt.type_string() }}) as recorded_by
    from source
)

select * from renamed
