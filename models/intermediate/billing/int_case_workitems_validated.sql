{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **overages.replace_partitions_config('day_key')
    )
}}
{#
    Every landed case workitem with its row-level verdict: rejection_reason null where the row itself is
    sound, else the first of its own faults in rule 9's order. Whether its case is accepted
    (unknown_case) is decided downstream (int_case_workitems_rejected). Incremental by the day of created_at:
    see macros/incremental.sql.
#}
with

{{ overages.incremental_candidate_rows('stg_genesys__case_workitems', 'workitem_id', 'created_at',
    ['workitem_id', 'case_id', 'queue_id', 'created_at', 'completed_at', '_loaded_at'], 'created_month') }},

ranked_by_landing as (
    select
        *,
        {{ overages.landing_rank(['workitem_id'], ['case_id', 'queue_id', 'created_at', 'completed_at']) }}
            as landing_rank
    from candidate_rows
),

validated as (
    select
        workitem_id,
        {{ overages.id_hash('workitem_id') }} as id_hash,
        case_id,
        {{ overages.id_hash('case_id') }} as case_id_hash,
        queue_id,
        created_at,
        completed_at,
        billing_month as created_month,
        month_key,
        day_key,
        _loaded_at,
        case
            when workitem_id is null then 'missing_id'
            when landing_rank > 1 then 'duplicate'
            when created_at is null then 'missing_timestamp'
            when completed_at < created_at then 'invalid_interval'
        end as rejection_reason,
        {{ overages.batch_at() }} as _batch_at
    from ranked_by_landing
)

{{ overages.validated_rows('validated') }}
