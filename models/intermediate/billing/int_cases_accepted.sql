{{ config(materialized='view') }}
{#
    The accepted cases: sound rows whose org had a subscription in force at the end of their month. The
    workitems' unknown_case check reads it. A view: an incremental build reads only the cases of the
    workitems it rejudges, and the reconciliation counts accepted cases from int_cases_counted_to_months.
#}
with

cases as (
    select * from {{ ref('int_cases_validated') }}
    where rejection_reason is null
),

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

accepted as (
    select
        cases.case_id,
        cases.org_id,
        cases.created_at,
        cases.billing_month,
        cases._batch_at
    from cases
    inner join orgs_subscribed
        on cases.org_id = orgs_subscribed.org_id
    where {{ overages.subscribed_at_end_of('cases.billing_month', 'orgs_subscribed.first_subscribed_at') }}
)

select * from accepted
