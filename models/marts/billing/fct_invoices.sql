{#
    One row per invoice: an org and billing month with anything on its invoice. Its currency is that of
    its charges (else of the month's subscription, else of its lines); the total adds the lines in that
    currency, and lines_in_other_currencies counts any adjustment that cannot be added to it.
#}
with

lines as (
    select * from {{ ref('fct_invoice_lines') }}
),

closed as (
    select * from {{ ref('int_billing_months_closed') }}
),

org_months as (
    select * from {{ ref('int_org_months_subscribed') }}
),

invoice_currency as (
    select
        lines.invoice_number,
        coalesce(
            min(case when lines.line_type = 'charge' then lines.currency end),
            min(org_months.billing_currency),
            min(lines.currency)
        ) as currency
    from lines
    left join org_months
        on lines.org_id = org_months.org_id
        and lines.billing_month = org_months.billing_month
    group by lines.invoice_number
),

totals as (
    select
        lines.invoice_number,
        lines.org_id,
        max(lines.org_name) as org_name,
        lines.billing_month,
        invoice_currency.currency,
        lines.status,
        {%- for feature in var('invoice_subtotal_features') %}
        sum(
            case when lines.line_type = 'charge' and lines.feature = '{{ feature }}' then lines.amount else 0 end
        ) as {{ feature }}_amount,
        {%- endfor %}
        sum(
            case
                when lines.line_type = 'adjustment' and lines.currency = invoice_currency.currency then lines.amount
                else 0
            end
        ) as adjustment_amount,
        sum(case when lines.currency = invoice_currency.currency then lines.amount else 0 end) as total_amount,
        count(*) as line_count,
        sum(case when lines.currency = invoice_currency.currency then 0 else 1 end) as lines_in_other_currencies
    from lines
    inner join invoice_currency
        on lines.invoice_number = invoice_currency.invoice_number
    group by lines.invoice_number, lines.org_id, lines.billing_month, invoice_currency.currency, lines.status
),

final as (
    select
        cast(totals.invoice_number as {{ dbt.type_string() }}) as invoice_number,
        cast(totals.org_id as {{ dbt.type_string() }}) as org_id,
        cast(totals.org_name as {{ dbt.type_string() }}) as org_name,
        cast(totals.billing_month as date) as billing_month,
        cast(totals.currency as {{ dbt.type_string() }}) as currency,
        cast(totals.status as {{ dbt.type_string() }}) as status,
        {%- for feature in var('invoice_subtotal_features') %}
        cast(totals.{{ feature }}_amount as decimal(18, 4)) as {{ feature }}_amount,
        {%- endfor %}
        cast(totals.adjustment_amount as decimal(18, 4)) as adjustment_amount,
        cast(totals.total_amount as decimal(18, 4)) as total_amount,
        cast(totals.line_count as bigint) as line_count,
        cast(totals.lines_in_other_currencies as bigint) as lines_in_other_currencies,
        cast(closed.closed_at as {{ dbt.type_timestamp() }}) as issued_at,
        cast(closed.issued_by_build_id as {{ dbt.type_string() }}) as issued_by_build_id
    from totals
    left join closed
        on totals.billing_month = closed.billing_month
        and totals.status = 'final'
)

select * from final
