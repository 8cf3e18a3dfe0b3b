with

source as (
    select * from {{ source('genesys', 'wallboard_accounts') }}
),

renamed as (
    select
        {{ overages.clean_id('account_id') }} as account_id,
        {{ overages.clean_id('org_id') }} as org_id,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(deleted_at as {{ dbt.type_timestamp() }}) as deleted_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from source
)

select * from renamed
