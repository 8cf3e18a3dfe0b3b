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

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

usage_by_month as (
    select org_id, billing_month, last_occurred_at from {{ ref('int_token_usage_summed_to_months') }}
    union all
    select org_id, billing_month, last_occurred_at from {{ ref('int_cases_counted_to_months') }}
),

accepted_usage as (
    select usage_by_month.last_occurred_at
    from usage_by_month
    inner join orgs_subscribed
        on usage_by_month.org_id = orgs_subscribed.org_id
    where {{ overages.subscribed_at_end_of('usage_by_month.billing_month', 'orgs_subscribed.first_subscribed_at') }}
),

accounts as (
    select * from {{ ref('int_wallboard_accounts_validated') }}
    where rejection_reason is null
),

activity_instants as (
    select max(effective_from) as at_ from subscriptions
    union all
    select max(last_occurred_at) from accepted_usage
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
        {{ overages.month_of('max(at_)') }} as latest_activity_month,
        max(at_) as latest_activity_at
    from activity_instants
)

select * from horizon
