{#
    Usage is conserved (rule 10), checked on every build: for every raw usage table, org and billing
    month up to the horizon, the usage of the accepted rows (audit.usage_reconciliation, recomputed from the
    validated rows) equals the usage the monthly overages mart bills, and the mart bills no usage that no
    accepted row accounts for; usage beyond the horizon waits. Returns the org-months that differ.
#}
with

accepted as (
    select * from {{ ref('usage_reconciliation') }}
    where not is_beyond_horizon
),

billed as (
    select org_id, billing_month, feature, usage_quantity
    from {{ ref('fct_monthly_overages') }}
    where usage_quantity <> 0
),

compared as (
    select
        coalesce(accepted.org_id, billed.org_id) as org_id,
        coalesce(accepted.billing_month, billed.billing_month) as billing_month,
        coalesce(accepted.feature, billed.feature) as feature,
        coalesce(accepted.accepted_usage, 0) as accepted_usage,
        coalesce(billed.usage_quantity, 0) as billed_usage
    from accepted
    full outer join billed
        on accepted.org_id = billed.org_id
        and accepted.billing_month = billed.billing_month
        and accepted.feature = billed.feature
)

select *
from compared
where accepted_usage <> billed_usage
