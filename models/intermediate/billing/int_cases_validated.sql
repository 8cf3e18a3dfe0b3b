{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **overages.replace_partitions_config('day_key')
    )
}}
{#
    Every landed case with its row-level verdict: rejection_reason null where the row itself is sound,
    else the first of its own faults in rule 9's order. no_subscription is decided per org and month
    downstream (int_cases_rejected). Incremental by day within billing months: see macros/incremental.sql.
#}
with

{{ overages.incremental_candidate_rows('stg_genesys__cases', 'case_id', 'created_at',
    ['case_id', 'org_id', 'created_at', '_loaded_at']) }},

ranked_by_landing as (
    select
        *,
        {{ overages.landing_rank(['case_id'], ['org_id', 'created_at']) }} as landing_rank
    from candidate_rows
),

validated as (
    select
        case_id,
        {{ overages.id_hash('case_id') }} as id_hash,
        org_id,
        created_at,
        billing_month,
        month_key,
        day_key,
        _loaded_at,
        landing_rank,
        case
            when case_id is null then 'missing_id'
            when landing_rank > 1 then 'duplicate'
            when org_id is null then 'missing_org'
            when created_at is null then 'missing_timestamp'
        end as rejection_reason,
        {{ overages.batch_at() }} as _batch_at
    from ranked_by_landing
)

{{ overages.validated_rows('validated') }}
