{#
    The month in progress, projected to its end from the run rate so far. Method (also in the YAML):
    the month is the horizon month; "so far" runs to the build's as-of instant (int_billing_horizon.as_of_at:
    the var as_of when given, else when the build started; capped at the month's end); elapsed = the share of the month's seconds that
    have passed. Tokens and cases are projected linearly, usage / elapsed; wallboard accounts are billed
    per account active at any instant, so the accounts so far are the projection. The projected overage,
    billed quantity (with any committed tier) and amount then follow rules 6 to 8.
#}
with

monthly_overages as (
    select * from {{ ref('int_monthly_overages_priced') }}
),

horizon as (
    select * from {{ ref('int_billing_horizon') }}
),

features as (
    select * from {{ ref('ref_features') }}
),

month_in_progress as (
    select
        horizon_month as billing_month,
        as_of_at as reported_as_of,
        cast({{ dbt.dateadd('month', 1, 'horizon_month') }} as {{ dbt.type_timestamp() }}) as month_end
    from horizon
),

elapsed as (
    select
        billing_month,
        case
            when reported_as_of is null or reported_as_of >= month_end then month_end
            else reported_as_of
        end as as_of,
        month_end
    from month_in_progress
),

elapsed_share as (
    select
        billing_month,
        as_of,
        cast(
            {{ dbt.datediff('cast(billing_month as ' ~ dbt.type_timestamp() ~ ')', 'as_of', 'second') }} as double
        ) / {{ dbt.datediff('cast(billing_month as ' ~ dbt.type_timestamp() ~ ')', 'month_end', 'second') }}
            as elapsed_fraction
    from elapsed
),

projected as (
    select
        monthly_overages.org_id,
        monthly_overages.billing_month,
        monthly_overages.feature,
        elapsed_share.as_of,
        cast(elapsed_share.elapsed_fraction as decimal(18, 6)) as elapsed_fraction,
        monthly_overages.billing_currency,
        monthly_overages.usage_quantity as usage_so_far,
        monthly_overages.free_allocation,
        monthly_overages.overage_quantity as overage_so_far,
        monthly_overages.committed_quantity,
        monthly_overages.unit_price,
        monthly_overages.price_source,
        cast(
            case
                when monthly_overages.feature = 'wallboard' or elapsed_share.elapsed_fraction >= 1
                    then monthly_overages.usage_quantity
                when elapsed_share.elapsed_fraction <= 0 then 0
                else round(monthly_overages.usage_quantity / elapsed_share.elapsed_fraction, 4)
            end
            as decimal(18, 4)
        ) as projected_usage,
        monthly_overages.minor_units,
        features.unit in (
            {%- for unit in var('counted_units') %}
            '{{ unit }}'{% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as is_counted
    from monthly_overages
    inner join elapsed_share
        on monthly_overages.billing_month = elapsed_share.billing_month
    left join features
        on monthly_overages.feature = features.feature
        and {{ overages.in_force('features', 'monthly_overages.billing_month') }}
),

with_projected_overage as (
    select
        *,
        cast({{ overages.overage_quantity('projected_usage', 'free_allocation') }} as decimal(18, 4))
            as projected_overage
    from projected
),

with_projected_billing as (
    select
        *,
        cast(
            case
                when price_source = 'contract' then greatest(projected_overage, committed_quantity)
                else projected_overage
            end
            as decimal(18, 4)
        ) as projected_billed_quantity
    from with_projected_overage
),

with_projected_amount as (
    select
        *,
        {{ overages.round_to_minor_units(
            overages.multiply_decimals('projected_billed_quantity', 'unit_price'), 'minor_units'
        ) }} as projected_overage_amount
    from with_projected_billing
),

{#
    An alert is worth sending when the projection goes past the allocation by something billable: at least one
    whole unit of a counted feature (150.0005 cases against 150 is noise), and a non-zero amount.
#}
with_alert as (
    select
        *,
        projected_usage > free_allocation as is_over,
        projected_usage > free_allocation
        and (projected_overage >= 1 or not coalesce(is_counted, false))
        and projected_overage_amount <> 0 as is_worth_alerting
    from with_projected_amount
),

final as (
    select
        cast(org_id as {{ dbt.type_string() }}) as org_id,
        cast(billing_month as date) as billing_month,
        cast(feature as {{ dbt.type_string() }}) as feature,
        cast(as_of as {{ dbt.type_timestamp() }}) as as_of,
        elapsed_fraction,
        cast(billing_currency as {{ dbt.type_string() }}) as billing_currency,
        cast(usage_so_far as decimal(18, 4)) as usage_so_far,
        cast(free_allocation as decimal(18, 4)) as free_allocation,
        cast(overage_so_far as decimal(18, 4)) as overage_so_far,
        projected_usage,
        projected_overage,
        projected_billed_quantity,
        cast(unit_price as decimal(18, 4)) as unit_price,
        cast(price_source as {{ dbt.type_string() }}) as price_source,
        projected_overage_amount,
        is_over as is_projected_over_allocation,
        is_worth_alerting as is_alert,
        is_worth_alerting and usage_so_far <= free_allocation as is_new_alert
    from with_alert
)

select * from final
