{#
    How many orgs use less than a quarter of an allocation, per month and feature: the allocation they
    leave unused (candidates for adoption work, or for a smaller plan).
#}
with

monthly_overages as (
    select * from {{ ref('fct_monthly_overages') }}
),

utilisation as (
    select
        billing_month,
        feature,
        org_id,
        usage_quantity < free_allocation / 4 as is_under_a_quarter
    from monthly_overages
    where free_allocation > 0
)

select
    billing_month,
    feature,
    count(*) as orgs,
    sum(case when is_under_a_quarter then 1 else 0 end) as orgs_under_a_quarter,
    round(100.0 * sum(case when is_under_a_quarter then 1 else 0 end) / count(*), 1) as percent_under_a_quarter
from utilisation
group by billing_month, feature
order by billing_month, feature
