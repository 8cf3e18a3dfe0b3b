{#
    Every landed subscription row with its verdict: rejection_reason is null where the row is accepted,
    else the first of its faults in rule 9's order.
#}
with

subscriptions as (
    select * from {{ ref('stg_genesys__org_subscriptions') }}
),

license_tiers as (
    select distinct license_tier from {{ ref('ref_license_tiers') }}
),

license_types as (
    select distinct license_type from {{ ref('ref_license_types') }}
),

currencies as (
    select distinct currency from {{ ref('ref_currencies') }}
),

ranked_by_landing as (
    select
        *,
        {{ overages.landing_rank(
            ['org_id', 'effective_from'],
            ['license_tier_landed', 'license_type', 'billing_currency', 'org_name']
        ) }} as landing_rank
    from subscriptions
),

validated as (
    select
        ranked_by_landing.org_id,
        ranked_by_landing.org_name,
        ranked_by_landing.license_tier_landed,
        ranked_by_landing.license_tier,
        ranked_by_landing.license_type,
        ranked_by_landing.billing_currency,
        ranked_by_landing.effective_from,
        ranked_by_landing._loaded_at,
        {{ dbt.concat([
            "ranked_by_landing.org_id", "'|'", "cast(ranked_by_landing.effective_from as " ~ dbt.type_string() ~ ")"
        ]) }}
            as record_id,
        case
            when ranked_by_landing.org_id is not null
                and ranked_by_landing.effective_from is not null
                and ranked_by_landing.landing_rank > 1
                then 'duplicate'
            when ranked_by_landing.org_id is null then 'missing_org'
            when ranked_by_landing.effective_from is null then 'missing_timestamp'
            when license_tiers.license_tier is null then 'unknown_license_tier'
            when license_types.license_type is null then 'unknown_license_type'
            when currencies.currency is null then 'unknown_currency'
        end as rejection_reason
    from ranked_by_landing
    left join license_tiers
        on ranked_by_landing.license_tier = license_tiers.license_tier
    left join license_types
        on ranked_by_landing.license_type = license_types.license_type
    left join currencies
        on ranked_by_landing.billing_currency = currencies.currency
)

select * from validated
