with

source as (
    select * from {{ source('genesys', 'org_subscriptions') }}
),

renamed as (
    select
        {{ overages.clean_id('org_id') }} as org_id,
        cast(org_name as {{ dbt.type_string() }}) as org_name,
        cast(license_tier as {{ dbt.type_string() }}) as license_tier_landed,
        {{ overages.canonical_license_tier('license_tier') }} as license_tier,
        {{ overages.clean_code('license_type') }} as license_type,
        {{ overages.clean_upper_code('billing_currency') }} as billing_currency,
        cast(effective_from as {{ dbt.type_timestamp() }}) as effective_from,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from source
)

select * from renamed
