{#
    One row per org and billing month in which it had an active wallboard account: the distinct accounts
    active at any instant of the month (rule 4). Active on [created_at, deleted_at): deleted at a
    month's first instant is not active in that month; created and deleted at one instant never was.
#}
with

accounts as (
    select * from {{ ref('int_wallboard_accounts_validated') }}
    where rejection_reason is null
),

org_months as (
    select * from {{ ref('int_org_months_subscribed') }}
),

active_in_month as (
    select
        org_months.org_id,
        org_months.billing_month,
        accounts.account_id
    from org_months
    inner join accounts
        on org_months.org_id = accounts.org_id
        and accounts.created_at < {{ overages.next_month_of('org_months.billing_month') }}
        and (accounts.deleted_at is null or accounts.deleted_at > org_months.billing_month)
        and (accounts.deleted_at is null or accounts.deleted_at > accounts.created_at)
),

counted as (
    select
        org_id,
        billing_month,
        'wallboard' as feature,
        cast(count(distinct account_id) as decimal(18, 4)) as usage_quantity
    from active_in_month
    group by org_id, billing_month
)

select * from counted
