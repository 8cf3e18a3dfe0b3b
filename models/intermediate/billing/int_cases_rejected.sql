{#
    Every rejected case with its reason: the row's own faults, then no_subscription for sound rows whose
    org had no accepted subscription in force at the end of their month (SPEC rule 9).
#}
with

cases as (
    select * from {{ ref('int_cases_validated') }}
),

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

with_final_reason as (
    select
        cases.record_id,
        cases.org_id,
        cases._loaded_at,
        coalesce(cases.rejection_reason, 'no_subscription') as reason
    from cases
    left join orgs_subscribed
        on cases.org_id = orgs_subscribed.org_id
    where cases.rejection_reason is not null
        or not {{ overages.subscribed_at_end_of('cases.billing_month', 'orgs_subscribed.first_subscribed_at') }}
)

select * from with_final_reason
