{#
    Every landed Genesys invoice line row with its verdict (rejection_reason null = accepted), in rule
    9's order among the reasons that can apply to it. A line's billing month is the month its dateStart
    falls in (an invoice is issued after the month it bills).
#}
with

lines as (
    select * from {{ ref('stg_genesys__invoice_lines') }}
),

currencies as (
    select distinct currency from {{ ref('ref_currencies') }}
),

ranked_by_landing as (
    select
        *,
        {{ overages.landing_rank(['invoice_id', 'line_id'], ['org_id', 'date_start', 'quantity', 'amount']) }}
            as landing_rank
    from lines
),

validated as (
    select
        ranked_by_landing.invoice_id,
        ranked_by_landing.line_id,
        ranked_by_landing.invoice_date,
        ranked_by_landing.currency,
        ranked_by_landing.product_sku,
        ranked_by_landing.product_name,
        ranked_by_landing.org_id,
        ranked_by_landing.quantity,
        ranked_by_landing.amount,
        ranked_by_landing.date_start,
        {{ overages.month_of('ranked_by_landing.date_start') }} as billing_month,
        ranked_by_landing._loaded_at,
        {{ dbt.concat(["ranked_by_landing.invoice_id", "'|'", "ranked_by_landing.line_id"]) }} as record_id,
        case
            when ranked_by_landing.invoice_id is null or ranked_by_landing.line_id is null then 'missing_id'
            when ranked_by_landing.landing_rank > 1 then 'duplicate'
            when ranked_by_landing.org_id is null then 'missing_org'
            when ranked_by_landing.date_start is null then 'missing_timestamp'
            when ranked_by_landing.quantity is null or ranked_by_landing.quantity < 0
                or ranked_by_landing.amount is null
                then 'invalid_quantity'
            when currencies.currency is null then 'unknown_currency'
        end as rejection_reason
    from ranked_by_landing
    left join currencies
        on ranked_by_landing.currency = currencies.currency
)

select * from validated
