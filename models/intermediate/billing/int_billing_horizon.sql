{#
    One row: the last billing month the marts report, and the build's as-of instant (rule 11).
    The through_month variable ('YYYY-MM') when given, else the latest month among accepted rows' instants
    up to the as-of instant: a timestamp after it (a wallboard deleted_at included) never moves the horizon,
    and the horizon is never later than the as-of month. Accepted rows past it are not lost: they wait for a
    later build.
#}
{%- set as_of_text = overages.as_of_text() -%}
{%- if var('through_month') and var('through_month') > as_of_text[:7] -%}
    {{ exceptions.raise_compiler_error(
        "through_month " ~ var('through_month') ~ " is later than the as-of month " ~ as_of_text[:7]
        ~ " (as of " ~ as_of_text ~ " UTC): months that have not happened cannot be billed") }}
{%- endif %}
with

subscriptions as (
    select * from {{ ref('int_org_subscriptions_validated') }}
    where rejection_reason is null
),

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

as_of as (
    select {{ overages.as_of() }} as as_of_at
),

usage_by_month as (
    select org_id, billing_month, first_occurred_at, last_occurred_at from {{ ref('int_token_usage_summed_to_months') }}
    union all
    select org_id, billing_month, first_occurred_at, last_occurred_at from {{ ref('int_cases_counted_to_months') }}
),

{#- Of an org-month's accepted rows, the latest up to the as-of instant: its last one, or, where that is later,
    the as-of instant itself when one of them is no later (only the month of the result matters). #}
accepted_usage as (
    select
        case
            when usage_by_month.last_occurred_at <= as_of.as_of_at then usage_by_month.last_occurred_at
            else as_of.as_of_at
        end as last_occurred_at
    from usage_by_month
    inner join orgs_subscribed
        on usage_by_month.org_id = orgs_subscribed.org_id
    cross join as_of
    where {{ overages.is_billed_month('usage_by_month.billing_month', 'orgs_subscribed.first_billing_month') }}
        and usage_by_month.first_occurred_at <= as_of.as_of_at
),

accounts as (
    select * from {{ ref('int_wallboard_accounts_validated') }}
    where rejection_reason is null
),

activity_instants as (
    select max(effective_from) as at_ from subscriptions where effective_from <= (select as_of_at from as_of)
    union all
    select max(last_occurred_at) from accepted_usage
    union all
    select max(created_at) from accounts where created_at <= (select as_of_at from as_of)
    union all
    select max(deleted_at) from accounts where deleted_at <= (select as_of_at from as_of)
),

horizon as (
    select
        {%- if var('through_month') %}
        cast('{{ var("through_month") }}-01' as date) as horizon_month,
        {%- else %}
        {{ overages.month_of('max(activity_instants.at_)') }} as horizon_month,
        {%- endif %}
        {{ overages.month_of('max(activity_instants.at_)') }} as latest_activity_month,
        max(activity_instants.at_) as latest_activity_at,
        max(as_of.as_of_at) as as_of_at
    from activity_instants
    cross join as_of
)

select * from horizon
