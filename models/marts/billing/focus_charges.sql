{{ config(materialized='view') }}
{#
    The invoice lines in the FinOps FOCUS 1.2 columns, for FinOps tools. Each column's mapping is
    documented in focus_charges.yml.
#}
with

invoice_lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

monthly_overages as (
    select * from {{ ref('fct_monthly_overages') }}
),

features as (
    select * from {{ ref('ref_features') }}
),

list_prices as (
    select * from {{ ref('ref_list_prices') }}
),

currencies as (
    select * from {{ ref('ref_currencies') }}
),

lines_with_list_price as (
    select
        invoice_lines.*,
        monthly_overages.overage_quantity,
        features.product_feature,
        list_prices.unit_price as list_unit_price,
        currencies.minor_units
    from invoice_lines
    inner join monthly_overages
        on invoice_lines.org_id = monthly_overages.org_id
        and invoice_lines.billing_month = monthly_overages.billing_month
        and invoice_lines.feature = monthly_overages.feature
    inner join features
        on invoice_lines.feature = features.feature
        and {{ overages.in_force('features', 'invoice_lines.billing_month') }}
    left join list_prices
        on invoice_lines.feature = list_prices.feature
        and invoice_lines.currency = list_prices.currency
        and {{ overages.in_force('list_prices', 'invoice_lines.billing_month') }}
    left join currencies
        on invoice_lines.currency = currencies.currency
        and {{ overages.in_force('currencies', 'invoice_lines.billing_month') }}
),

focus as (
    select
        amount as BilledCost,
        amount as EffectiveCost,
        {{ overages.round_to_minor_units(overages.multiply_decimals('quantity', 'list_unit_price'), 'minor_units') }}
            as ListCost,
        amount as ContractedCost,
        list_unit_price as ListUnitPrice,
        unit_price as ContractedUnitPrice,
        quantity as PricingQuantity,
        unit as PricingUnit,
        overage_quantity as ConsumedQuantity,
        unit as ConsumedUnit,
        currency as BillingCurrency,
        cast(billing_month as {{ dbt.type_timestamp() }}) as BillingPeriodStart,
        cast({{ dbt.dateadd('month', 1, 'billing_month') }} as {{ dbt.type_timestamp() }}) as BillingPeriodEnd,
        cast(billing_month as {{ dbt.type_timestamp() }}) as ChargePeriodStart,
        cast({{ dbt.dateadd('month', 1, 'billing_month') }} as {{ dbt.type_timestamp() }}) as ChargePeriodEnd,
        'Usage' as ChargeCategory,
        description as ChargeDescription,
        'Usage-Based' as ChargeFrequency,
        product_feature as ServiceName,
        case feature
            when 'ai_tokens' then 'AI and Machine Learning'
            else 'Business Applications'
        end as ServiceCategory,
        '{{ var("provider_name") }}' as ProviderName,
        '{{ var("provider_name") }}' as PublisherName,
        '{{ var("provider_name") }}' as InvoiceIssuerName,
        org_id as BillingAccountId,
        cast(null as {{ dbt.type_string() }}) as SubAccountId,
        invoice_code as SkuId,
        {{ dbt.concat(["feature", "':'", "currency", "':'", "price_source"]) }} as SkuPriceId,
        case when price_source = 'contract' then 'Committed' else 'Standard' end as PricingCategory
    from lines_with_list_price
)

select * from focus
