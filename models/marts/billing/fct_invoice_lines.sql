{#
    One row per invoice line. An open month's invoice (draft) shows the charges the rules compute now and
    the adjustments due for closed months before it; a closed month's invoice (final) shows the lines as
    they were issued, whatever has changed since.
#}
with

computed_lines as (
    select * from {{ ref('int_invoice_lines_computed') }}
),

issued_lines as (
    select * from {{ ref('int_invoice_lines_issued') }}
),

closed as (
    select * from {{ ref('int_billing_months_closed') }}
),

amounts_compared as (
    select * from {{ ref('int_invoice_amounts_compared') }}
),

org_months as (
    select * from {{ ref('int_org_months_subscribed') }}
),

orgs as (
    select * from {{ ref('dim_orgs') }}
),

features as (
    select * from {{ ref('ref_features') }}
),

draft_charges as (
    select
        computed_lines.*,
        cast(null as {{ dbt.type_string() }}) as adjusted_invoice_number,
        cast(null as date) as adjusted_billing_month,
        cast(null as {{ dbt.type_string() }}) as adjustment_reason,
        'draft' as status
    from computed_lines
    left join closed
        on computed_lines.billing_month = closed.billing_month
    where closed.billing_month is null
),

issued as (
    select
        invoice_number,
        org_id,
        org_name,
        billing_month,
        line_type,
        feature,
        invoice_code,
        description,
        usage_quantity,
        free_allocation,
        quantity,
        unit,
        unit_price,
        list_unit_price,
        amount,
        currency,
        price_source,
        adjusted_invoice_number,
        adjusted_billing_month,
        adjustment_reason,
        'final' as status
    from issued_lines
),

draft_adjustments as (
    select
        {{ overages.invoice_number('amounts_compared.org_id', 'amounts_compared.target_month') }}
            as invoice_number,
        amounts_compared.org_id,
        coalesce(org_months.org_name, orgs.org_name) as org_name,
        amounts_compared.target_month as billing_month,
        'adjustment' as line_type,
        amounts_compared.feature,
        features.invoice_code,
        {{ dbt.concat([
            "case when amounts_compared.amount_due < 0 then 'Credit' else 'Debit' end",
            "' for '",
            "features.product_feature",
            "', '",
            "substring(cast(amounts_compared.billing_month as " ~ dbt.type_string() ~ "), 1, 7)",
            "coalesce(" ~ dbt.concat(["', invoice '", "amounts_compared.issued_invoice_number"]) ~ ", ', not invoiced')",
            "' ('",
            "amounts_compared.adjustment_reason",
            "')'",
        ]) }} as description,
        cast(null as decimal(18, 4)) as usage_quantity,
        cast(null as decimal(18, 4)) as free_allocation,
        cast(null as decimal(18, 4)) as quantity,
        features.unit,
        cast(null as decimal(18, 4)) as unit_price,
        cast(null as decimal(18, 4)) as list_unit_price,
        amounts_compared.amount_due as amount,
        amounts_compared.currency,
        cast(null as {{ dbt.type_string() }}) as price_source,
        amounts_compared.issued_invoice_number as adjusted_invoice_number,
        amounts_compared.billing_month as adjusted_billing_month,
        amounts_compared.adjustment_reason,
        'draft' as status
    from amounts_compared
    inner join features
        on amounts_compared.feature = features.feature
        and {{ overages.in_force('features', 'amounts_compared.billing_month') }}
    left join org_months
        on amounts_compared.org_id = org_months.org_id
        and amounts_compared.target_month = org_months.billing_month
    left join orgs
        on amounts_compared.org_id = orgs.org_id
    where amounts_compared.amount_due <> 0
),

all_lines as (
    select * from draft_charges
    union all
    select * from issued
    union all
    select * from draft_adjustments
),

final as (
    select
        cast(invoice_number as {{ dbt.type_string() }}) as invoice_number,
        cast(org_id as {{ dbt.type_string() }}) as org_id,
        cast(org_name as {{ dbt.type_string() }}) as org_name,
        cast(billing_month as date) as billing_month,
        cast(line_type as {{ dbt.type_string() }}) as line_type,
        cast(feature as {{ dbt.type_string() }}) as feature,
        cast(invoice_code as {{ dbt.type_string() }}) as invoice_code,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(usage_quantity as decimal(18, 4)) as usage_quantity,
        cast(free_allocation as decimal(18, 4)) as free_allocation,
        cast(quantity as decimal(18, 4)) as quantity,
        cast(unit as {{ dbt.type_string() }}) as unit,
        cast(unit_price as decimal(18, 4)) as unit_price,
        cast(list_unit_price as decimal(18, 4)) as list_unit_price,
        cast(amount as decimal(18, 4)) as amount,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(price_source as {{ dbt.type_string() }}) as price_source,
        cast(adjusted_invoice_number as {{ dbt.type_string() }}) as adjusted_invoice_number,
        cast(adjusted_billing_month as date) as adjusted_billing_month,
        cast(adjustment_reason as {{ dbt.type_string() }}) as adjustment_reason,
        cast(status as {{ dbt.type_string() }}) as status
    from all_lines
)

select * from final
