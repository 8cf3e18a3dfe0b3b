{#
    The usage of every accepted usage row, per raw table, org, billing month and feature, computed from the
    validated rows and audit.rejected_rows alone (not from the monthly sums the marts are built from), so
    that the test assert_usage_conserved and the suite usage_conserved can check on every build that it all
    reaches the marts: usage up to the horizon equals fct_monthly_overages.usage_quantity; usage beyond it
    waits for a later build (rule 10). An accepted event or case is a sound validated row that
    audit.rejected_rows does not judge later (no_reference_data, no_subscription); account-months are the
    months from the org's first billing month to the horizon in which an accepted account is active.
#}
with

horizon as (
    select * from {{ ref('int_billing_horizon') }}
),

judged_later as (
    select source_table, record_id
    from {{ ref('rejected_rows') }}
    where reason in ('no_reference_data', 'no_subscription')
),

events as (
    select validated.org_id, validated.billing_month, validated.tokens
    from {{ ref('int_ai_token_events_validated') }} as validated
    left join judged_later
        on judged_later.source_table = 'ai_token_events'
        and validated.event_id = judged_later.record_id
    where validated.rejection_reason is null
        and judged_later.record_id is null
),

cases as (
    select validated.org_id, validated.billing_month
    from {{ ref('int_cases_validated') }} as validated
    left join judged_later
        on judged_later.source_table = 'cases'
        and validated.case_id = judged_later.record_id
    where validated.rejection_reason is null
        and judged_later.record_id is null
),

{#- Each accepted account's first and last billed month: from its creation (or the org's first billing month)
    to the month before the one it was deleted at the first instant of, else the month of deletion, capped
    at the horizon. An account deleted at its creation is never active. #}
account_spans as (
    select
        accounts.org_id,
        accounts.account_id,
        greatest({{ overages.month_of('accounts.created_at') }}, orgs.first_billing_month) as first_month,
        case
            when accounts.deleted_at is null then horizon.horizon_month
            when accounts.deleted_at
                = cast({{ overages.month_of('accounts.deleted_at') }} as {{ dbt.type_timestamp() }})
                then least(cast({{ dbt.dateadd(
                    'month', -1, overages.month_of('accounts.deleted_at')
                ) }} as date), horizon.horizon_month)
            else least({{ overages.month_of('accounts.deleted_at') }}, horizon.horizon_month)
        end as last_month
    from {{ ref('int_wallboard_accounts_validated') }} as accounts
    inner join {{ ref('int_orgs_subscribed') }} as orgs
        on accounts.org_id = orgs.org_id
    cross join horizon
    where accounts.rejection_reason is null
        and (accounts.deleted_at is null or accounts.deleted_at > accounts.created_at)
),

month_offsets as (
    {{ overages.integers_0_to_9999() }}
),

account_months as (
    select
        account_spans.org_id,
        cast({{ dbt.dateadd('month', 'month_offsets.n', 'account_spans.first_month') }} as date) as billing_month,
        account_spans.account_id
    from account_spans
    inner join month_offsets
        on month_offsets.n <= {{ dbt.datediff('account_spans.first_month', 'account_spans.last_month', 'month') }}
),

accepted as (
    select
        'ai_token_events' as source_table, org_id, billing_month, 'ai_tokens' as feature,
        cast(sum(tokens) as decimal(18, 4)) as accepted_usage
    from events
    group by org_id, billing_month
    union all
    select 'cases', org_id, billing_month, 'case_management', cast(count(*) as decimal(18, 4))
    from cases
    group by org_id, billing_month
    union all
    select
        'wallboard_accounts', org_id, billing_month, 'wallboard',
        cast(count(distinct account_id) as decimal(18, 4))
    from account_months
    group by org_id, billing_month
),

final as (
    select
        cast(accepted.source_table as {{ dbt.type_string() }}) as source_table,
        cast(accepted.org_id as {{ dbt.type_string() }}) as org_id,
        cast(accepted.billing_month as date) as billing_month,
        cast(accepted.feature as {{ dbt.type_string() }}) as feature,
        accepted.accepted_usage,
        coalesce(accepted.billing_month > horizon.horizon_month, true) as is_beyond_horizon
    from accepted
    cross join horizon
)

select * from final
