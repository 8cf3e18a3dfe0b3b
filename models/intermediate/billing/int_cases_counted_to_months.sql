{# One row per org and billing month with accepted cases: the cases created in the month (SPEC rule 4). #}
with

cases as (
    select * from {{ ref('int_cases_validated') }}
    where rejection_reason is null
),

counted as (
    select
        org_id,
        billing_month,
        'case_management' as feature,
        cast(count(*) as decimal(18, 4)) as usage_quantity
    from cases
    group by org_id, billing_month
)

select * from counted
