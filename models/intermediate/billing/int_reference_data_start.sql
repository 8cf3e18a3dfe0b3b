{#
    One row: the first billing month (rule 1), the month of the earliest valid_from of the reference data.
    Usage dated earlier has no price or allocation to bill it by and is rejected as no_reference_data; a
    subscription effective earlier is in force from this month on.
#}
with

reference_valid_from as (
    select valid_from from {{ ref('ref_features') }}
    union all
    select valid_from from {{ ref('ref_free_allocations') }}
    union all
    select valid_from from {{ ref('ref_list_prices') }}
    union all
    select valid_from from {{ ref('ref_currencies') }}
    union all
    select valid_from from {{ ref('ref_license_tiers') }}
    union all
    select valid_from from {{ ref('ref_license_types') }}
),

reference_start as (
    select
        {{ overages.month_of('min(valid_from)') }} as first_billing_month,
        cast({{ overages.month_of('min(valid_from)') }} as {{ dbt.type_timestamp() }}) as first_billing_instant
    from reference_valid_from
)

select * from reference_start
