{#
    One row per invoice line issued for a month that is closed now: the lines of the month's current
    close, exactly as they were issued (a re-opened month's earlier issues no longer count).
#}
with

issued as (
    select * from {{ ref('stg_billing_state__invoices_issued') }}
),

closed as (
    select * from {{ ref('int_billing_months_closed') }}
),

current_issue as (
    select issued.*
    from issued
    inner join closed
        on issued.close_id = closed.close_id
        and issued.billing_month = closed.billing_month
)

select * from current_issue
