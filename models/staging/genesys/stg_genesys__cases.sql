with

source as (
    select * from {{ source('genesys', 'cases') }}
),

renamed as (
    select
        {{ overages.clean_id('case_id') }} as case_id,
        {{ overages.clean_id('org_id') }} as org_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from source
)

select * from renamed
