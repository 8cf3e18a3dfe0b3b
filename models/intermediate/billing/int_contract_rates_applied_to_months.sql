{#
    One row per org, billing month and feature that a committed overage tier applies to (rule 7):
    the accepted contract row with valid_from <= the month's first day < valid_to, in the month's
    billing currency. Where several apply, the later valid_from wins, then the later _loaded_at.
#}
with

contracts as (
    select * from {{ ref('int_contract_rates_validated') }}
    where rejection_reason is null
),

org_months as (
    select * from {{ ref('int_org_months_subscribed') }}
),

applicable_ranked as (
    select
        org_months.org_id,
        org_months.billing_month,
        contracts.feature,
        contracts.unit_price,
        contracts.committed_quantity,
        contracts.valid_from,
        contracts.valid_to,
        row_number() over (
            partition by org_months.org_id, org_months.billing_month, contracts.feature
            order by
                contracts.valid_from desc,
                contracts._loaded_at desc nulls last,
                contracts.unit_price asc,
                contracts.committed_quantity desc,
                contracts.valid_to desc nulls first
        ) as precedence_rank
    from org_months
    inner join contracts
        on org_months.org_id = contracts.org_id
        and org_months.billing_currency = contracts.currency
        and {{ overages.in_force('contracts', 'org_months.billing_month') }}
),

applied as (
    select
        org_id,
        billing_month,
        feature,
        unit_price,
        committed_quantity,
        valid_from as contract_valid_from,
        valid_to as contract_valid_to
    from applicable_ranked
    where precedence_rank = 1
)

select * from applied
