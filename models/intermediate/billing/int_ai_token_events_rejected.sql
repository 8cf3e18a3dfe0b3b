{#
    Every rejected AI token event with its reason: the row's own faults, then no_subscription for sound
    rows whose org had no accepted subscription in force at the end of their month (SPEC rule 9).
#}
with

events as (
    select * from {{ ref('int_ai_token_events_validated') }}
),

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

with_final_reason as (
    select
        events.record_id,
        events.org_id,
        events._loaded_at,
        coalesce(events.rejection_reason, 'no_subscription') as reason
    from events
    left join orgs_subscribed
        on events.org_id = orgs_subscribed.org_id
    where events.rejection_reason is not null
        or not {{ overages.subscribed_at_end_of('events.billing_month', 'orgs_subscribed.first_subscribed_at') }}
)

select * from with_final_reason
