{#
    One row per org, closed billing month, feature and currency: what the rules compute for it now beside
    what was billed for it (the charge issued with the month's invoice, plus adjustments already issued
    on later invoices). A difference is an adjustment due, carried to the org's next open month: the
    first month after the closed one that is not closed itself. The reason names what changed since
    issue, the first that applies: currency, contract, list price, allocation, usage.
#}
with

priced as (
    select * from {{ ref('int_monthly_overages_priced') }}
),

closed as (
    select * from {{ ref('int_billing_months_closed') }}
),

issued as (
    select * from {{ ref('int_invoice_lines_issued') }}
),

computed as (
    select
        priced.org_id,
        priced.billing_month,
        priced.feature,
        priced.billing_currency as currency,
        priced.usage_quantity,
        priced.free_allocation,
        priced.billed_quantity,
        priced.unit_price,
        priced.price_source,
        priced.overage_amount as amount
    from priced
    inner join closed
        on priced.billing_month = closed.billing_month
),

computed_currency as (
    select distinct org_id, billing_month, billing_currency as currency
    from priced
),

issued_charges as (
    select * from issued
    where line_type = 'charge'
),

issued_currency as (
    select org_id, billing_month, min(currency) as currency
    from issued_charges
    group by org_id, billing_month
),

issued_invoices as (
    select org_id, billing_month, min(invoice_number) as invoice_number
    from issued
    group by org_id, billing_month
),

adjustments_issued as (
    select
        org_id,
        adjusted_billing_month as billing_month,
        feature,
        currency,
        sum(amount) as amount
    from issued
    where line_type = 'adjustment'
    group by org_id, adjusted_billing_month, feature, currency
),

compared_keys as (
    select org_id, billing_month, feature, currency from computed
    union
    select org_id, billing_month, feature, currency from issued_charges
    union
    select org_id, billing_month, feature, currency from adjustments_issued
),

closed_months as (
    select billing_month from closed
),

target_candidates as (
    select
        closed_months.billing_month as adjusted_billing_month,
        {{ overages.next_month_of('later_closed.billing_month') }} as candidate_month
    from closed_months
    inner join closed_months as later_closed
        on later_closed.billing_month >= closed_months.billing_month
),

next_open_months as (
    select
        target_candidates.adjusted_billing_month,
        min(target_candidates.candidate_month) as target_month
    from target_candidates
    left join closed_months as closed_candidate
        on target_candidates.candidate_month = closed_candidate.billing_month
    where closed_candidate.billing_month is null
    group by target_candidates.adjusted_billing_month
),

compared as (
    select
        compared_keys.org_id,
        compared_keys.billing_month,
        compared_keys.feature,
        compared_keys.currency,
        issued_invoices.invoice_number as issued_invoice_number,
        next_open_months.target_month,
        cast(coalesce(computed.amount, 0) as decimal(18, 4)) as computed_amount,
        cast(coalesce(issued_charges.amount, 0) as decimal(18, 4)) as issued_amount,
        cast(coalesce(adjustments_issued.amount, 0) as decimal(18, 4)) as adjusted_amount,
        case
            when computed_currency.currency <> issued_currency.currency
                or (computed.org_id is null and issued_charges.org_id is not null)
                then 'billing currency changed'
            when issued_charges.org_id is null then 'not billed when issued'
            when computed.price_source <> issued_charges.price_source
                or (computed.price_source = 'contract' and computed.unit_price <> issued_charges.unit_price)
                then 'contract changed'
            when computed.unit_price <> issued_charges.unit_price then 'list price changed'
            when computed.free_allocation <> issued_charges.free_allocation then 'free allocation changed'
            when computed.usage_quantity <> issued_charges.usage_quantity then 'usage changed'
            else 'recomputed'
        end as adjustment_reason
    from compared_keys
    inner join next_open_months
        on compared_keys.billing_month = next_open_months.adjusted_billing_month
    left join computed
        on compared_keys.org_id = computed.org_id
        and compared_keys.billing_month = computed.billing_month
        and compared_keys.feature = computed.feature
        and compared_keys.currency = computed.currency
    left join issued_charges
        on compared_keys.org_id = issued_charges.org_id
        and compared_keys.billing_month = issued_charges.billing_month
        and compared_keys.feature = issued_charges.feature
        and compared_keys.currency = issued_charges.currency
    left join adjustments_issued
        on compared_keys.org_id = adjustments_issued.org_id
        and compared_keys.billing_month = adjustments_issued.billing_month
        and compared_keys.feature = adjustments_issued.feature
        and compared_keys.currency = adjustments_issued.currency
    left join issued_invoices
        on compared_keys.org_id = issued_invoices.org_id
        and compared_keys.billing_month = issued_invoices.billing_month
    left join computed_currency
        on compared_keys.org_id = computed_currency.org_id
        and compared_keys.billing_month = computed_currency.billing_month
    left join issued_currency
        on compared_keys.org_id = issued_currency.org_id
        and compared_keys.billing_month = issued_currency.billing_month
),

with_amount_due as (
    select
        *,
        cast(computed_amount - issued_amount - adjusted_amount as decimal(18, 4)) as amount_due
    from compared
)

select * from with_amount_due
