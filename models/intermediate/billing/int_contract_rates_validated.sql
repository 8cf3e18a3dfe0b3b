{#
    Every landed contract rate with its verdict (rejection_reason null = accepted). Contract rows have
    no natural key in the landing contract, so they are never duplicates of each other: where two
    apply to one month, int_contract_rates_applied_to_months picks one (rule 7).
    A row's currency must be the org's billing currency in the first month it covers; where the org
    has no subscription in force yet that month, the currency of the org's first billed month is the
    yardstick (the first month the contract can apply to).
#}
with

contracts as (
    select * from {{ ref('stg_genesys__contract_rates') }}
),

subscriptions as (
    select * from {{ ref('int_org_subscriptions_validated') }}
    where rejection_reason is null
),

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

features as (
    select distinct feature from {{ ref('ref_features') }}
),

currencies as (
    select distinct currency from {{ ref('ref_currencies') }}
),

numbered as (
    select
        *,
        {{ overages.first_month_from('valid_from') }} as first_covered_month,
        row_number() over (
            order by
                org_id asc nulls last,
                feature asc nulls last,
                currency asc nulls last,
                valid_from asc nulls last,
                valid_to asc nulls last,
                unit_price asc nulls last,
                committed_quantity asc nulls last,
                _loaded_at asc nulls last
        ) as contract_row_number
    from contracts
),

subscription_of_first_month_ranked as (
    {#
        The month whose billing currency the row must match: its first covered month, or the org's first
        billed month where the org was not subscribed yet then. The subscription in force at that month's
        last instant decides it (rule 3).
    #}
    select
        numbered.contract_row_number,
        subscriptions.billing_currency,
        row_number() over (
            partition by numbered.contract_row_number
            order by subscriptions.effective_from desc
        ) as subscription_rank
    from numbered
    inner join orgs_subscribed
        on numbered.org_id = orgs_subscribed.org_id
    inner join subscriptions
        on numbered.org_id = subscriptions.org_id
        and subscriptions.effective_from < {{ overages.next_month_of(
            'greatest(numbered.first_covered_month, orgs_subscribed.first_billing_month)'
        ) }}
    where numbered.valid_from is not null
),

currency_of_first_month as (
    select
        contract_row_number,
        billing_currency
    from subscription_of_first_month_ranked
    where subscription_rank = 1
),

validated as (
    select
        numbered.org_id,
        numbered.feature,
        numbered.currency,
        numbered.unit_price,
        numbered.committed_quantity,
        numbered.valid_from,
        numbered.valid_to,
        numbered.first_covered_month,
        numbered._loaded_at,
        {{ dbt.concat([
            "numbered.org_id", "'|'", "numbered.feature", "'|'",
            "cast(numbered.valid_from as " ~ dbt.type_string() ~ ")"
        ]) }} as record_id,
        case
            when numbered.org_id is null then 'missing_org'
            when numbered.valid_from is null then 'missing_timestamp'
            when {{ overages.is_invalid_quantity('numbered.unit_price') }}
                or {{ overages.is_invalid_quantity('numbered.committed_quantity') }}
                then 'invalid_quantity'
            when numbered.valid_to <= numbered.valid_from then 'invalid_interval'
            when currencies.currency is null then 'unknown_currency'
            when features.feature is null then 'unknown_feature'
            when orgs_subscribed.org_id is null then 'no_subscription'
            when currency_of_first_month.billing_currency <> numbered.currency then 'contract_currency_mismatch'
        end as rejection_reason
    from numbered
    left join currencies
        on numbered.currency = currencies.currency
    left join features
        on numbered.feature = features.feature
    left join orgs_subscribed
        on numbered.org_id = orgs_subscribed.org_id
    left join currency_of_first_month
        on numbered.contract_row_number = currency_of_first_month.contract_row_number
)

select * from validated
