{#
    One row per org, billing month and feature with something to bill: the charge line the rules compute
    now (fct_monthly_overages with billed_quantity > 0), with its invoice number and the org's name.
#}
with

priced as (
    select * from {{ ref('int_monthly_overages_priced') }}
),

org_months as (
    select * from {{ ref('int_org_months_subscribed') }}
),

features as (
    select * from {{ ref('ref_features') }}
),

billed as (
    select
        priced.*,
        org_months.org_name,
        features.product_feature,
        features.unit
    from priced
    inner join features
        on priced.feature = features.feature
        and {{ overages.in_force('features', 'priced.billing_month') }}
    left join org_months
        on priced.org_id = org_months.org_id
        and priced.billing_month = org_months.billing_month
    where priced.billed_quantity > 0
),

lines as (
    select
        {{ overages.invoice_number('org_id', 'billing_month') }} as invoice_number,
        org_id,
        org_name,
        billing_month,
        'charge' as line_type,
        feature,
        invoice_code,
        {{ dbt.concat([
            "product_feature",
            "case when price_source = 'contract' then ' committed overage tier, ' else ' overage, ' end",
            "cast(billing_month as " ~ dbt.type_string() ~ ")",
        ]) }} as description,
        usage_quantity,
        free_allocation,
        billed_quantity as quantity,
        unit,
        unit_price,
        list_unit_price,
        overage_amount as amount,
        billing_currency as currency,
        price_source
    from billed
)

select * from lines
