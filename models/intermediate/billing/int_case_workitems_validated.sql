{#
    Every landed case workitem with its verdict (rejection_reason null = accepted). Workitems carry no
    org of their own: org_id is their case's, where the case's winning row names one.
#}
with

workitems as (
    select * from {{ ref('stg_genesys__case_workitems') }}
),

cases as (
    select * from {{ ref('int_cases_validated') }}
),

case_winners as (
    select
        case_id,
        org_id,
        rejection_reason is null as is_accepted
    from cases
    where case_id is not null and landing_rank = 1
),

ranked_by_landing as (
    select
        *,
        {{ overages.landing_rank(['workitem_id'], ['case_id', 'queue_id', 'created_at', 'completed_at']) }}
            as landing_rank
    from workitems
),

validated as (
    select
        ranked_by_landing.workitem_id,
        ranked_by_landing.case_id,
        case_winners.org_id,
        ranked_by_landing.queue_id,
        ranked_by_landing.created_at,
        ranked_by_landing.completed_at,
        ranked_by_landing._loaded_at,
        ranked_by_landing.workitem_id as record_id,
        case
            when ranked_by_landing.workitem_id is null then 'missing_id'
            when ranked_by_landing.landing_rank > 1 then 'duplicate'
            when ranked_by_landing.created_at is null then 'missing_timestamp'
            when ranked_by_landing.completed_at < ranked_by_landing.created_at then 'invalid_interval'
            when case_winners.is_accepted is null or not case_winners.is_accepted then 'unknown_case'
        end as rejection_reason
    from ranked_by_landing
    left join case_winners
        on ranked_by_landing.case_id = case_winners.case_id
)

select * from validated
