{#
    Where what Genesys Cloud bills departs most from what our usage says it should be: every row of
    fct_billing_reconciliation that does not match, largest amount at stake first. The amount at stake is
    the charge's (or the invoice's) difference from our amount in the billing currency; a row only one side
    has is at stake for its whole amount. Rates and quantities are shown beside it to say why.
#}
with

reconciliation as (
    select * from {{ ref('fct_billing_reconciliation') }}
),

differing as (
    select
        org_id,
        billing_month,
        feature,
        status,
        currency,
        billed_quantity,
        genesys_overage_quantity,
        invoiced_quantity,
        unit_price,
        genesys_overage_rate,
        amount,
        genesys_overage_charge,
        invoiced_amount,
        coalesce(charge_difference, invoiced_difference, genesys_overage_charge, -amount) as amount_at_stake
    from reconciliation
    where status <> 'match'
),

ranked as (
    select
        *,
        row_number() over (order by abs(amount_at_stake) desc, org_id, billing_month, feature) as difference_rank
    from differing
)

select * from ranked
order by difference_rank
