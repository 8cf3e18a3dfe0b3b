{#
    Every landed Genesys billing-period charge row with its verdict (rejection_reason null = accepted), in
    rule 9's order among the reasons that can apply to it. Rule 2 keeps the latest landing of a charge:
    an open period is landed again on every extract, and its latest figures are the ones to compare.
#}
with

charges as (
    select * from {{ ref('stg_genesys__billing_charges') }}
),

currencies as (
    select distinct currency from {{ ref('ref_currencies') }}
),

ranked_by_landing as (
    select
        *,
        {{ overages.landing_rank(
            ['billing_period_id', 'charge_id', 'org_id'],
            ['period_start', 'actual_quantity', 'overage_quantity', 'overage_charge']
        ) }} as landing_rank
    from charges
),

validated as (
    select
        ranked_by_landing.contract_id,
        ranked_by_landing.billing_period_id,
        ranked_by_landing.period_status,
        ranked_by_landing.period_start,
        {{ overages.month_of('ranked_by_landing.period_start') }} as billing_month,
        ranked_by_landing.charge_id,
        ranked_by_landing.product_sku,
        ranked_by_landing.product_name,
        ranked_by_landing.org_id,
        ranked_by_landing.actual_quantity,
        ranked_by_landing.fairuse_quantity,
        ranked_by_landing.overage_quantity,
        ranked_by_landing.overage_rate,
        ranked_by_landing.overage_charge,
        ranked_by_landing.overage_currency,
        ranked_by_landing._loaded_at,
        {{ dbt.concat([
            "ranked_by_landing.billing_period_id", "'|'", "ranked_by_landing.charge_id", "'|'",
            "ranked_by_landing.org_id"
        ]) }} as record_id,
        case
            when ranked_by_landing.billing_period_id is null or ranked_by_landing.charge_id is null
                then 'missing_id'
            when ranked_by_landing.landing_rank > 1 then 'duplicate'
            when ranked_by_landing.org_id is null then 'missing_org'
            when ranked_by_landing.period_start is null then 'missing_timestamp'
            when ranked_by_landing.has_unbillable_quantity
                or ranked_by_landing.overage_quantity is null or ranked_by_landing.overage_quantity < 0
                or ranked_by_landing.actual_quantity < 0 or ranked_by_landing.overage_rate < 0
                or ranked_by_landing.overage_charge < 0
                then 'invalid_quantity'
            when ranked_by_landing.overage_currency is not null and currencies.currency is null
                then 'unknown_currency'
        end as rejection_reason
    from ranked_by_landing
    left join currencies
        on ranked_by_landing.overage_currency = currencies.currency
)

select * from validated
