{#
    Every rejected case workitem with its reason: the row's own faults, then unknown_case for sound rows
    whose case is not an accepted case (SPEC rule 9). Workitems carry no org of their own: org_id is their
    case's, from the case's last-landed row, null where no such case was landed.
#}
with

workitems as (
    select * from {{ ref('int_case_workitems_validated') }}
),

accepted_cases as (
    select * from {{ ref('int_cases_accepted') }}
),

case_winners as (
    select case_id, org_id
    from {{ ref('int_cases_validated') }}
    where case_id is not null and landing_rank = 1
),

rejected as (
    select
        workitems.record_id,
        workitems.case_id,
        workitems._loaded_at,
        coalesce(workitems.rejection_reason, 'unknown_case') as reason
    from workitems
    left join accepted_cases
        on workitems.case_id = accepted_cases.case_id
    where workitems.rejection_reason is not null
        or accepted_cases.case_id is null
),

with_case_org as (
    select
        rejected.record_id,
        case_winners.org_id,
        rejected._loaded_at,
        rejected.reason
    from rejected
    left join case_winners
        on rejected.case_id = case_winners.case_id
)

select * from with_case_org
