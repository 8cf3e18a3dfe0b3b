{#
    Month-over-month overage by feature and billing currency: this month's amount, last month's, and the
    change. Amounts stay in their own currency: they are never added across currencies.
#}
with

monthly_overages as (
    select * from {{ ref('fct_monthly_overages') }}
),

by_month as (
    select
        billing_month,
        feature,
        billing_currency,
        sum(overage_amount) as overage_amount
    from monthly_overages
    group by billing_month, feature, billing_currency
),

with_previous as (
    select
        *,
        lag(overage_amount) over (
            partition by feature, billing_currency order by billing_month
        ) as previous_overage_amount
    from by_month
)

select
    billing_month,
    feature,
    billing_currency,
    overage_amount,
    previous_overage_amount,
    overage_amount - previous_overage_amount as change
from with_previous
order by feature, billing_currency, billing_month
