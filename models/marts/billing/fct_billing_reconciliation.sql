{#
    Our figures beside what Genesys Cloud bills, per org, billing month and feature: the billing periods'
    charges and the invoice lines, matched to a feature through ref_genesys_products (by SKU where one is
    published, else by product name). Charges for products that are not one of our features (licences ...)
    are not compared. The months compared are those Genesys billed the org for: an org-month with no charge
    and no invoice line at all was not extracted (another contract, another token), so it is left out rather
    than reported as only_here.
#}
with

monthly_overages as (
    select * from {{ ref('fct_monthly_overages') }}
),

charges as (
    select * from {{ ref('int_billing_charges_validated') }}
    where rejection_reason is null
),

invoice_lines as (
    select * from {{ ref('int_invoice_lines_validated') }}
    where rejection_reason is null
),

products as (
    select * from {{ ref('ref_genesys_products') }}
),

currencies as (
    select * from {{ ref('ref_currencies') }}
),

closed_months as (
    select * from {{ ref('int_billing_months_closed') }}
),

issued_charges as (
    select * from {{ ref('int_invoice_lines_issued') }}
    where line_type = 'charge'
),

our_figures as (
    {#
        The "issued or computed" choice, in one place: a closed month is compared with the invoice as issued
        (`overages close`), an open one with the figures the rules compute now. Usage and overage are always
        the computed ones; the billed quantity, price and amount come from the issued line where the month is
        closed (none issued: nothing billed).
    #}
    select
        monthly_overages.org_id,
        monthly_overages.billing_month,
        monthly_overages.feature,
        coalesce(issued_charges.currency, monthly_overages.billing_currency) as currency,
        monthly_overages.usage_quantity,
        monthly_overages.overage_quantity,
        case
            when closed_months.billing_month is null then monthly_overages.billed_quantity
            else coalesce(issued_charges.quantity, 0)
        end as billed_quantity,
        case
            when closed_months.billing_month is null then monthly_overages.unit_price
            else coalesce(issued_charges.unit_price, monthly_overages.unit_price)
        end as unit_price,
        case
            when closed_months.billing_month is null then monthly_overages.overage_amount
            else coalesce(issued_charges.amount, 0)
        end as amount,
        case when closed_months.billing_month is null then 'computed' else 'issued' end as our_source
    from monthly_overages
    left join closed_months
        on monthly_overages.billing_month = closed_months.billing_month
    left join issued_charges
        on monthly_overages.org_id = issued_charges.org_id
        and monthly_overages.billing_month = issued_charges.billing_month
        and monthly_overages.feature = issued_charges.feature
),

charges_by_feature as (
    select
        charges.org_id,
        charges.billing_month,
        coalesce(by_sku.feature, by_name.feature) as feature,
        max(charges.overage_currency) as currency,
        sum(charges.actual_quantity) as actual_quantity,
        sum(charges.overage_quantity) as overage_quantity,
        max(charges.overage_rate) as overage_rate,
        sum(charges.overage_charge) as overage_charge
    from charges
    left join products as by_sku
        on charges.product_sku = by_sku.sku
        and {{ overages.in_force('by_sku', 'charges.billing_month') }}
    left join products as by_name
        on by_name.sku is null
        and lower(charges.product_name) = lower(by_name.product_name)
        and {{ overages.in_force('by_name', 'charges.billing_month') }}
    where coalesce(by_sku.feature, by_name.feature) is not null
    group by 1, 2, 3
),

invoiced_by_feature as (
    select
        invoice_lines.org_id,
        invoice_lines.billing_month,
        coalesce(by_sku.feature, by_name.feature) as feature,
        max(invoice_lines.currency) as currency,
        sum(invoice_lines.quantity) as quantity,
        sum(invoice_lines.amount) as amount
    from invoice_lines
    left join products as by_sku
        on invoice_lines.product_sku = by_sku.sku
        and {{ overages.in_force('by_sku', 'invoice_lines.billing_month') }}
    left join products as by_name
        on by_name.sku is null
        and lower(invoice_lines.product_name) = lower(by_name.product_name)
        and {{ overages.in_force('by_name', 'invoice_lines.billing_month') }}
    where coalesce(by_sku.feature, by_name.feature) is not null
    group by 1, 2, 3
),

org_months_billed_by_genesys as (
    select org_id, billing_month from charges_by_feature
    union
    select org_id, billing_month from invoiced_by_feature
),

compared_keys as (
    select org_id, billing_month, feature from charges_by_feature
    union
    select org_id, billing_month, feature from invoiced_by_feature
    union
    select our_figures.org_id, our_figures.billing_month, our_figures.feature
    from our_figures
    inner join org_months_billed_by_genesys
        on our_figures.org_id = org_months_billed_by_genesys.org_id
        and our_figures.billing_month = org_months_billed_by_genesys.billing_month
    where our_figures.billed_quantity > 0
),

side_by_side as (
    select
        compared_keys.org_id,
        compared_keys.billing_month,
        compared_keys.feature,
        coalesce(our_figures.currency, charges_by_feature.currency, invoiced_by_feature.currency) as currency,
        our_figures.our_source,
        our_figures.usage_quantity,
        our_figures.overage_quantity,
        our_figures.billed_quantity,
        our_figures.unit_price,
        our_figures.amount,
        charges_by_feature.currency as genesys_currency,
        charges_by_feature.actual_quantity as genesys_actual_quantity,
        charges_by_feature.overage_quantity as genesys_overage_quantity,
        charges_by_feature.overage_rate as genesys_overage_rate,
        charges_by_feature.overage_charge as genesys_overage_charge,
        invoiced_by_feature.currency as invoiced_currency,
        invoiced_by_feature.quantity as invoiced_quantity,
        invoiced_by_feature.amount as invoiced_amount,
        our_figures.org_id is not null as is_here,
        charges_by_feature.org_id is not null as is_charged,
        invoiced_by_feature.org_id is not null as is_invoiced
    from compared_keys
    left join our_figures
        on compared_keys.org_id = our_figures.org_id
        and compared_keys.billing_month = our_figures.billing_month
        and compared_keys.feature = our_figures.feature
    left join charges_by_feature
        on compared_keys.org_id = charges_by_feature.org_id
        and compared_keys.billing_month = charges_by_feature.billing_month
        and compared_keys.feature = charges_by_feature.feature
    left join invoiced_by_feature
        on compared_keys.org_id = invoiced_by_feature.org_id
        and compared_keys.billing_month = invoiced_by_feature.billing_month
        and compared_keys.feature = invoiced_by_feature.feature
),

rounded as (
    {# Amounts are compared in the currency's minor units: a difference below one cent (one yen) is none. #}
    select
        side_by_side.*,
        {{ overages.round_to_minor_units('side_by_side.amount', 'currencies.minor_units') }} as amount_minor,
        {{ overages.round_to_minor_units('side_by_side.genesys_overage_charge', 'currencies.minor_units') }}
            as genesys_charge_minor,
        {{ overages.round_to_minor_units('side_by_side.invoiced_amount', 'currencies.minor_units') }}
            as invoiced_amount_minor
    from side_by_side
    left join currencies
        on side_by_side.currency = currencies.currency
        and {{ overages.in_force('currencies', 'side_by_side.billing_month') }}
),

judged as (
    select
        rounded.*,
        case
            when not is_here then 'only_in_genesys'
            when not is_charged and not is_invoiced then 'only_here'
            when
                (
                    is_charged
                    and (genesys_actual_quantity <> usage_quantity or genesys_overage_quantity <> billed_quantity)
                )
                or (is_invoiced and invoiced_quantity <> billed_quantity)
                then 'quantity_differs'
            when is_charged and genesys_overage_rate <> unit_price then 'rate_differs'
            when (is_charged and (genesys_currency <> currency or genesys_charge_minor <> amount_minor))
                or (is_invoiced and (invoiced_currency <> currency or invoiced_amount_minor <> amount_minor))
                then 'amount_differs'
            else 'match'
        end as status
    from rounded
),

final as (
    select
        cast(org_id as {{ dbt.type_string() }}) as org_id,
        cast(billing_month as date) as billing_month,
        cast(feature as {{ dbt.type_string() }}) as feature,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(our_source as {{ dbt.type_string() }}) as our_source,
        cast(usage_quantity as decimal(18, 4)) as usage_quantity,
        cast(overage_quantity as decimal(18, 4)) as overage_quantity,
        cast(billed_quantity as decimal(18, 4)) as billed_quantity,
        cast(unit_price as decimal(18, 4)) as unit_price,
        cast(amount as decimal(18, 4)) as amount,
        cast(genesys_actual_quantity as decimal(18, 4)) as genesys_actual_quantity,
        cast(genesys_overage_quantity as decimal(18, 4)) as genesys_overage_quantity,
        cast(genesys_overage_rate as decimal(18, 6)) as genesys_overage_rate,
        cast(genesys_overage_charge as decimal(18, 4)) as genesys_overage_charge,
        cast(invoiced_quantity as decimal(18, 4)) as invoiced_quantity,
        cast(invoiced_amount as decimal(18, 4)) as invoiced_amount,
        cast(genesys_actual_quantity - usage_quantity as decimal(18, 4)) as usage_difference,
        cast(genesys_overage_quantity - billed_quantity as decimal(18, 4)) as quantity_difference,
        cast(genesys_overage_rate - unit_price as decimal(18, 6)) as rate_difference,
        cast(genesys_charge_minor - amount_minor as decimal(18, 4)) as charge_difference,
        cast(invoiced_amount_minor - amount_minor as decimal(18, 4)) as invoiced_difference
    from judged
)

select * from final
