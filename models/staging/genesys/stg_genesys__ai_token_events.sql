with

source as (
    select * from {{ source('genesys', 'ai_token_events') }}
),

renamed as (
    select
        {{ overages.clean_id('event_id') }} as event_id,
        {{ overages.clean_id('org_id') }} as org_id,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        {# Summed at full precision, rounded to the marts' four places only once, per month; null where it
           can never be billed (NaN, infinite, beyond the limit: macros/quantities.sql). #}
        {{ overages.billable_decimal('tokens', 'decimal(28, 8)') }} as tokens,
        nullif(trim(cast(ai_feature as {{ dbt.type_string() }})), '') as ai_feature,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at
    from source
)

select * from renamed
