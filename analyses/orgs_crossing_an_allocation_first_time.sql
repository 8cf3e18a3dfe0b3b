{#
    Orgs that went over an allocation for the first time, and when: the month an account team should
    have heard about it.
#}
with

monthly_overages as (
    select * from {{ ref('fct_monthly_overages') }}
),

first_over as (
    select
        org_id,
        feature,
        min(billing_month) as first_month_over
    from monthly_overages
    where overage_quantity > 0
    group by org_id, feature
)

select
    first_over.org_id,
    first_over.feature,
    first_over.first_month_over,
    monthly_overages.usage_quantity,
    monthly_overages.free_allocation,
    monthly_overages.overage_quantity
from first_over
inner join monthly_overages
    on first_over.org_id = monthly_overages.org_id
    and first_over.feature = monthly_overages.feature
    and first_over.first_month_over = monthly_overages.billing_month
order by first_over.first_month_over desc, first_over.org_id, first_over.feature
