{#
    Which orgs pay the most overage in the latest billing month, and why: the feature, the usage against
    the allocation, and whether a negotiated rate applied. Amounts are compared at the USD list price
    (list_amount_usd), since orgs are billed in nine currencies.
#}
with

monthly_overages as (
    select * from {{ ref('fct_monthly_overages') }}
),

latest_month as (
    select max(billing_month) as billing_month from monthly_overages
),

billed_this_month as (
    select
        monthly_overages.org_id,
        monthly_overages.feature,
        monthly_overages.usage_quantity,
        monthly_overages.free_allocation,
        monthly_overages.overage_quantity,
        monthly_overages.billed_quantity,
        monthly_overages.price_source,
        monthly_overages.overage_amount,
        monthly_overages.billing_currency,
        monthly_overages.list_amount_usd
    from monthly_overages
    inner join latest_month
        on monthly_overages.billing_month = latest_month.billing_month
    where monthly_overages.billed_quantity > 0
),

ranked as (
    select
        *,
        sum(list_amount_usd) over (partition by org_id) as org_list_amount_usd
    from billed_this_month
)

select *
from ranked
order by org_list_amount_usd desc, org_id, list_amount_usd desc
limit 50
