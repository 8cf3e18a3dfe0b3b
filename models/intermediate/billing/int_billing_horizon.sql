{#
    One row: the last billing month the marts report. The through_month variable ('YYYY-MM') when
    given, else the latest month among accepted rows (SPEC section 4). Accepted rows past it are not
    lost: they wait for a later build.
#}
with

subscriptions as (
    select * from {{ ref('int_org_subscriptions_validated') }}
    where rejection_reason is null
),

events as (
    select * from {{ ref('int_ai_token_events_validated') }}
    where rejection_reason is null
),

cases as (
    select * from {{ ref('int_cases_validated') }}
    where rejection_reason is null
),

accounts as (
    select * from {{ ref('int_wallboard_accounts_validated') }}
    where rejection_reason is null
),

activity_instants as (
    select max(effective_from) as at_ from subscriptions
    union all
    select max(occurred_at) from events
    union all
    select max(created_at) from cases
    union all
    select max(created_at) from accounts
    union all
    select max(deleted_at) from accounts
),

horizon as (
    select
        {%- if var('through_month') %}
        cast('{{ var("through_month") }}-01' as date) as horizon_month,
        {%- else %}
        {{ overages.month_of('max(at_)') }} as horizon_month,
        {%- endif %}
        {{ overages.month_of('max(at_)') }} as latest_activity_month
    from activity_instants
)

select * from horizon
