{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **overages.replace_partitions_config('day_key')
    )
}}
{#
    Every landed AI token event with its row-level verdict: rejection_reason null where the row itself is
    sound, else the first of its own faults in rule 9's order. Whether its org has a subscription in
    force at the end of its month (no_subscription) is decided per org and month downstream, where it is
    cheap and always current. Incremental by day within billing months: see macros/incremental.sql.
#}
with

{{ overages.incremental_candidate_rows('stg_genesys__ai_token_events', 'event_id', 'occurred_at',
    ['event_id', 'org_id', 'occurred_at', 'tokens', 'ai_feature', '_loaded_at']) }},

ranked_by_landing as (
    select
        *,
        {{ overages.landing_rank(['event_id'], ['org_id', 'occurred_at', 'tokens', 'ai_feature']) }} as landing_rank
    from candidate_rows
),

validated as (
    select
        event_id,
        {{ overages.id_hash('event_id') }} as id_hash,
        org_id,
        occurred_at,
        billing_month,
        month_key,
        day_key,
        tokens,
        ai_feature,
        _loaded_at,
        case
            when event_id is null then 'missing_id'
            when landing_rank > 1 then 'duplicate'
            when org_id is null then 'missing_org'
            when occurred_at is null then 'missing_timestamp'
            when {{ overages.is_invalid_quantity('tokens') }} then 'invalid_quantity'
        end as rejection_reason,
        {{ overages.batch_at() }} as _batch_at
    from ranked_by_landing
)

{{ overages.validated_rows('validated') }}
