{#
    How much overage each feature brings in, per month and billing currency, and how many orgs pay it.
    Compile with `dbt compile` and run the SQL in target/, or paste it into a BI tool.
#}
with

monthly_overages as (
    select * from {{ ref('fct_monthly_overages') }}
),

summarised as (
    select
        billing_month,
        feature,
        billing_currency,
        count(distinct case when billed_quantity > 0 then org_id end) as orgs_billed,
        sum(overage_amount) as overage_amount,
        sum(list_amount_usd) as list_amount_usd
    from monthly_overages
    group by billing_month, feature, billing_currency
)

select * from summarised
order by billing_month, feature, billing_currency
