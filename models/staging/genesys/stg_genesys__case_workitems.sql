with

source as (
    select * from {{ source('genesys', 'case_workitems') }}
),

renamed as (
    select
        {{ overages.clean_id('workitem_id') }} as workitem_id,
        {{ overages.clean_id('case_id') }} as case_id,
        {{ overages.clean_id('queue_id') }} as queue_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(completed_at as {{ dbt.type_timestamp() }}) as completed_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from source
)

select * from renamed
