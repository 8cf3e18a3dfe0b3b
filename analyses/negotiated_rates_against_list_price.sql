{#
    The effect of negotiated rates: for every org-month billed under a committed tier, what the list price
    would have charged for the overage alone, against what the contract charges (committed quantity at
    the negotiated price), in the billing currency.
#}
with

monthly_overages as (
    select * from {{ ref('fct_monthly_overages') }}
),

list_prices as (
    select * from {{ ref('ref_list_prices') }}
),

under_contract as (
    select
        monthly_overages.org_id,
        monthly_overages.billing_month,
        monthly_overages.feature,
        monthly_overages.billing_currency,
        monthly_overages.overage_quantity,
        monthly_overages.committed_quantity,
        monthly_overages.billed_quantity,
        monthly_overages.unit_price as contract_unit_price,
        list_prices.unit_price as list_unit_price,
        monthly_overages.overage_amount as contract_amount,
        monthly_overages.overage_quantity * list_prices.unit_price as list_amount_for_overage
    from monthly_overages
    left join list_prices
        on monthly_overages.feature = list_prices.feature
        and monthly_overages.billing_currency = list_prices.currency
        and {{ overages.in_force('list_prices', 'monthly_overages.billing_month') }}
    where monthly_overages.price_source = 'contract'
)

select
    *,
    contract_amount - list_amount_for_overage as contract_minus_list
from under_contract
order by billing_month, org_id, feature
