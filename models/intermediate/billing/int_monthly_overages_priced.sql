{#
    One row per org, billing month and feature: usage, free allocation, overage, committed tier, price
    and amounts (rules 3 to 8). A month with no usage still has its row, showing the allocation
    left unused.
#}
with

org_months as (
    select * from {{ ref('int_org_months_subscribed') }}
),

token_usage as (
    select * from {{ ref('int_token_usage_summed_to_months') }}
),

case_usage as (
    select * from {{ ref('int_cases_counted_to_months') }}
),

wallboard_usage as (
    select * from {{ ref('int_wallboard_accounts_counted_to_months') }}
),

contracts_applied as (
    select * from {{ ref('int_contract_rates_applied_to_months') }}
),

features as (
    select * from {{ ref('ref_features') }}
),

free_allocations as (
    select * from {{ ref('ref_free_allocations') }}
),

list_prices as (
    select * from {{ ref('ref_list_prices') }}
),

currencies as (
    select * from {{ ref('ref_currencies') }}
),

usage_by_month as (
    select org_id, billing_month, feature, usage_quantity from token_usage
    union all
    select org_id, billing_month, feature, usage_quantity from case_usage
    union all
    select org_id, billing_month, feature, usage_quantity from wallboard_usage
),

org_month_features as (
    select
        org_months.org_id,
        org_months.billing_month,
        features.feature,
        features.invoice_code,
        org_months.license_tier,
        org_months.license_type,
        org_months.billing_currency
    from org_months
    inner join features
        on {{ overages.in_force('features', 'org_months.billing_month') }}
),

with_usage_and_allocation as (
    select
        org_month_features.*,
        coalesce(usage_by_month.usage_quantity, 0) as usage_quantity,
        free_allocations.free_quantity as free_allocation
    from org_month_features
    left join usage_by_month
        on org_month_features.org_id = usage_by_month.org_id
        and org_month_features.billing_month = usage_by_month.billing_month
        and org_month_features.feature = usage_by_month.feature
    left join free_allocations
        on org_month_features.license_tier = free_allocations.license_tier
        and org_month_features.license_type = free_allocations.license_type
        and org_month_features.feature = free_allocations.feature
        and {{ overages.in_force('free_allocations', 'org_month_features.billing_month') }}
),

with_overage as (
    select
        *,
        cast({{ overages.overage_quantity('usage_quantity', 'free_allocation') }} as decimal(18, 4))
            as overage_quantity
    from with_usage_and_allocation
),

priced as (
    select
        with_overage.*,
        contracts_applied.committed_quantity as contract_committed_quantity,
        contracts_applied.unit_price as contract_unit_price,
        contracts_applied.org_id is not null as has_contract,
        local_prices.unit_price as list_unit_price,
        usd_prices.unit_price as usd_list_unit_price,
        currencies.minor_units
    from with_overage
    left join contracts_applied
        on with_overage.org_id = contracts_applied.org_id
        and with_overage.billing_month = contracts_applied.billing_month
        and with_overage.feature = contracts_applied.feature
    left join list_prices as local_prices
        on with_overage.feature = local_prices.feature
        and with_overage.billing_currency = local_prices.currency
        and {{ overages.in_force('local_prices', 'with_overage.billing_month') }}
    left join list_prices as usd_prices
        on with_overage.feature = usd_prices.feature
        and usd_prices.currency = 'USD'
        and {{ overages.in_force('usd_prices', 'with_overage.billing_month') }}
    left join currencies
        on with_overage.billing_currency = currencies.currency
        and {{ overages.in_force('currencies', 'with_overage.billing_month') }}
),

billed as (
    select
        *,
        cast(case when has_contract then contract_committed_quantity else 0 end as decimal(18, 4))
            as committed_quantity,
        cast(
            case
                when has_contract then greatest(overage_quantity, contract_committed_quantity)
                else overage_quantity
            end
            as decimal(18, 4)
        ) as billed_quantity,
        cast(case when has_contract then contract_unit_price else list_unit_price end as decimal(18, 4))
            as unit_price,
        case when has_contract then 'contract' else 'list' end as price_source
    from priced
),

amounts as (
    select
        org_id,
        billing_month,
        feature,
        license_tier,
        license_type,
        billing_currency,
        usage_quantity,
        free_allocation,
        overage_quantity,
        committed_quantity,
        billed_quantity,
        unit_price,
        price_source,
        {{ overages.round_to_minor_units(overages.within_decimal_18_4(
            overages.multiply_decimals('billed_quantity', 'unit_price'), 'org_id', 'billing_month',
            "the ' || feature || ' overage amount"), 'minor_units') }} as overage_amount,
        {{ overages.round_to_minor_units(overages.within_decimal_18_4(
            overages.multiply_decimals('billed_quantity', 'usd_list_unit_price'), 'org_id', 'billing_month',
            "the ' || feature || ' list amount in USD"), 2) }} as list_amount_usd,
        invoice_code,
        list_unit_price,
        minor_units
    from billed
)

select * from amounts
