{{ config(materialized='view') }}
{#
    The invoice lines in the FinOps FOCUS 1.2 columns, for FinOps tools. Each column's mapping is
    documented in focus_charges.yml.
#}
with

invoice_lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

priced as (
    select * from {{ ref('int_monthly_overages_priced') }}
),

features as (
    select * from {{ ref('ref_features') }}
),

lines_with_list_price as (
    select
        invoice_lines.*,
        priced.overage_quantity,
        priced.list_unit_price,
        priced.minor_units,
        features.product_feature
    from invoice_lines
    inner join priced
        on invoice_lines.org_id = priced.org_id
        and invoice_lines.billing_month = priced.billing_month
        and invoice_lines.feature = priced.feature
    inner join features
        on invoice_lines.feature = features.feature
        and {{ overages.in_force('features', 'invoice_lines.billing_month') }}
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
