{#
    One row per billing month that is closed now: its latest close or re-open event is a close.
#}
with

events as (
    select * from {{ ref('stg_billing_state__month_close_events') }}
),

events_ranked as (
    select
        *,
        row_number() over (partition by billing_month order by recorded_at desc, event_id desc) as recency_rank
    from events
),

closed as (
    select
        billing_month,
        event_id as close_id,
        recorded_at as closed_at,
        build_id as issued_by_build_id,
        recorded_by as closed_by
    from events_ranked
    where recency_rank = 1 and action = 'close'
)

select * from closed
