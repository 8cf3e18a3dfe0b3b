{#
    Closed months, issued against computed: for each, what the rules compute now, what was issued, and the
    adjustments (issued on later final invoices, or waiting on a draft) that carry the difference. Read
    from the marts themselves, so a line missing from fct_invoice_lines shows as unreconciled.
#}
with

monthly_overages as (
    select * from {{ ref('fct_monthly_overages') }}
),

lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

closed as (
    select * from {{ ref('closed_billing_months') }}
),

computed as (
    select
        monthly_overages.org_id,
        monthly_overages.billing_month,
        monthly_overages.billing_currency as currency,
        sum(monthly_overages.overage_amount) as computed_amount
    from monthly_overages
    inner join closed
        on monthly_overages.billing_month = closed.billing_month
    group by monthly_overages.org_id, monthly_overages.billing_month, monthly_overages.billing_currency
),

issued as (
    select org_id, billing_month, currency, sum(amount) as issued_amount
    from lines
    where line_type = 'charge' and status = 'final'
    group by org_id, billing_month, currency
),

adjustments as (
    select
        org_id,
        adjusted_billing_month as billing_month,
        currency,
        sum(case when status = 'final' then amount else 0 end) as adjusted_amount,
        sum(case when status = 'draft' then amount else 0 end) as pending_amount
    from lines
    where line_type = 'adjustment'
    group by org_id, adjusted_billing_month, currency
),

keys as (
    select org_id, billing_month, currency from computed where computed_amount <> 0
    union
    select org_id, billing_month, currency from issued
    union
    select org_id, billing_month, currency from adjustments
),

reconciled as (
    select
        keys.org_id,
        keys.billing_month,
        keys.currency,
        cast(coalesce(computed.computed_amount, 0) as decimal(18, 4)) as computed_amount,
        cast(coalesce(issued.issued_amount, 0) as decimal(18, 4)) as issued_amount,
        cast(coalesce(adjustments.adjusted_amount, 0) as decimal(18, 4)) as adjusted_amount,
        cast(coalesce(adjustments.pending_amount, 0) as decimal(18, 4)) as pending_amount
    from keys
    left join computed
        on keys.org_id = computed.org_id
        and keys.billing_month = computed.billing_month
        and keys.currency = computed.currency
    left join issued
        on keys.org_id = issued.org_id
        and keys.billing_month = issued.billing_month
        and keys.currency = issued.currency
    left join adjustments
        on keys.org_id = adjustments.org_id
        and keys.billing_month = adjustments.billing_month
        and keys.currency = adjustments.currency
),

final as (
    select
        cast(org_id as {{ dbt.type_string() }}) as org_id,
        cast(billing_month as date) as billing_month,
        cast(currency as {{ dbt.type_string() }}) as currency,
        computed_amount,
        issued_amount,
        adjusted_amount,
        pending_amount,
        cast(computed_amount - issued_amount - adjusted_amount - pending_amount as decimal(18, 4))
            as unreconciled_amount,
        computed_amount - issued_amount - adjusted_amount - pending_amount = 0 as is_reconciled
    from reconciled
)

select * from final
