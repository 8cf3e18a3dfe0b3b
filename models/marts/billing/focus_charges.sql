{{ config(materialized='view') }}
{#
    The invoice lines in the FinOps FOCUS 1.2 columns, for FinOps tools. Each column's mapping is
    documented in focus_charges.yml.
#}
with

invoice_lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

features as (
    select * from {{ ref('ref_features') }}
),

currencies as (
    select * from {{ ref('ref_currencies') }}
),

lines_with_list_price as (
    select
        invoice_lines.*,
        currencies.minor_units,
        features.product_feature
    from invoice_lines
    inner join features
        on invoice_lines.feature = features.feature
        and {{ overages.in_force('features', 'invoice_lines.billing_month') }}
    left join currencies
        on invoice_lines.currency = currencies.currency
        and {{ overages.in_force('currencies', 'invoice_lines.billing_month') }}
),

focus as (
    select
        amount as BilledCost,
        amount as EffectiveCost,
        case
            when line_type = 'adjustment' then amount
            else {{ overages.round_to_minor_units(
                overages.multiply_decimals('quantity', 'list_unit_price'), 'minor_units'
            ) }}
        end as ListCost,
        amount as ContractedCost,
        list_unit_price as ListUnitPrice,
        unit_price as ContractedUnitPrice,
        quantity as PricingQuantity,
        unit as PricingUnit,
        case
            when line_type = 'charge' then {{ overages.overage_quantity('usage_quantity', 'free_allocation') }}
        end as ConsumedQuantity,
        unit as ConsumedUnit,
        currency as BillingCurrency,
        cast(billing_month as {{ dbt.type_timestamp() }}) as BillingPeriodStart,
        cast({{ dbt.dateadd('month', 1, 'billing_month') }} as {{ dbt.type_timestamp() }}) as BillingPeriodEnd,
        cast(billing_month as {{ dbt.type_timestamp() }}) as ChargePeriodStart,
        cast({{ dbt.dateadd('month', 1, 'billing_month') }} as {{ dbt.type_timestamp() }}) as ChargePeriodEnd,
        case when line_type = 'adjustment' then 'Adjustment' else 'Usage' end as ChargeCategory,
        case when line_type = 'adjustment' then 'Correction' end as ChargeClass,
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
        {{ dbt.concat(["feature", "':'", "currency", "':'", "coalesce(price_source, 'adjustment')"]) }} as SkuPriceId,
        case when price_source = 'contract' then 'Committed' else 'Standard' end as PricingCategory,
        invoice_number as InvoiceId,
        case when status = 'final' then 'issued' else 'computed' end as x_AmountBasis
    from lines_with_list_price
)

select * from focus
