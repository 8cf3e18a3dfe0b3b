{#
    rule 2: among the rows sharing a complete natural key, the one landed last wins; the others
    are duplicates. Ties on _loaded_at are broken by the row's own columns, so the winner is the same
    on every build and every engine (explicit null ordering: engines differ in their default).
#}
{% macro landing_rank(key_columns, tiebreak_columns) -%}
    row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by
            _loaded_at desc nulls last
            {%- for column in tiebreak_columns %},
            {{ column }} asc nulls last
            {%- endfor %}
    )
{%- endmacro %}


{#
    The reasons of rule 9, in the order the rule reports them when a row has several faults: the var
    rejection_reasons of dbt_project.yml, the one list the audit models, the tests and the validation
    suites all read.
#}
{% macro rejection_reasons() -%}
    {{ return(var('rejection_reasons')) }}
{%- endmacro %}


{#
    Where each raw table's rejected rows come from (keyed by the name audit.rejected_rows gives the table):
    a validated model whose rejection_reason is final, or a *_rejected model for the large tables whose
    last checks (no_subscription, unknown_case) are made per org and month or per case downstream.
    Each yields record_id, org_id, _loaded_at and the reason.
#}
{% macro rejection_sources() -%}
    {{ return({
        'org_subscriptions': {'model': 'int_org_subscriptions_validated', 'reason': 'rejection_reason'},
        'wallboard_accounts': {'model': 'int_wallboard_accounts_validated', 'reason': 'rejection_reason'},
        'ai_token_events': {'model': 'int_ai_token_events_rejected', 'reason': 'reason'},
        'cases': {'model': 'int_cases_rejected', 'reason': 'reason'},
        'case_workitems': {'model': 'int_case_workitems_rejected', 'reason': 'reason'},
        'contract_rates': {'model': 'int_contract_rates_validated', 'reason': 'rejection_reason'},
        'genesys_billing_charges': {'model': 'int_billing_charges_validated', 'reason': 'rejection_reason'},
        'genesys_invoice_lines': {'model': 'int_invoice_lines_validated', 'reason': 'rejection_reason'},
    }) }}
{%- endmacro %}


{# Each raw table and the intermediate model holding every one of its landed rows, one row each. #}
{% macro validated_models() -%}
    {{ return({
        'org_subscriptions': 'int_org_subscriptions_validated',
        'wallboard_accounts': 'int_wallboard_accounts_validated',
        'ai_token_events': 'int_ai_token_events_validated',
        'cases': 'int_cases_validated',
        'case_workitems': 'int_case_workitems_validated',
        'contract_rates': 'int_contract_rates_validated',
        'genesys_billing_charges': 'int_billing_charges_validated',
        'genesys_invoice_lines': 'int_invoice_lines_validated',
    }) }}
{%- endmacro %}


{#
    The rejected rows of a usage table validated row by row (events, cases): each row's own fault, then
    no_reference_data for a sound row of a month before the reference data begins (rules 1 and 9), then
    no_subscription for a sound row whose org had no accepted subscription in force at the end of its
    month (rule 9). Renders a whole incremental model body, by the validated rows' day_key: a build
    rejudges the days the validated model rewrote since this model last read it, and every day when
    int_orgs_subscribed changed (its fingerprint differs). Each judged day also gets a day row (reason
    null): see macros/incremental.sql. id_column becomes the record_id: the large validated tables keep no
    second copy of their id (writing one more text column of every landed row costs seconds per build).
#}
{% macro rejected_usage_rows(validated_model, id_column) -%}
{%- set incremental_state = overages.incremental_state_ready(['orgs_fingerprint', '_consumed_batch_at']) -%}
with

orgs_subscribed as (
    select * from {{ ref('int_orgs_subscribed') }}
),

reference_start as (
    select * from {{ ref('int_reference_data_start') }}
),

orgs_fingerprint as (
    {{ overages.orgs_subscribed_fingerprint() }}
),

{% if incremental_state %}
previous as (
    select
        max(_consumed_batch_at) as consumed_batch_at,
        min(orgs_fingerprint) as min_fingerprint,
        max(orgs_fingerprint) as max_fingerprint
    from {{ this }}
),

judge_every_day as (
    select
        previous.consumed_batch_at is null
        or previous.min_fingerprint <> orgs_fingerprint.orgs_fingerprint
        or previous.max_fingerprint <> orgs_fingerprint.orgs_fingerprint as every_day
    from previous
    cross join orgs_fingerprint
),

days_to_judge as (
    select distinct day_key
    from {{ ref(validated_model) }}
    where _batch_at > (select consumed_batch_at from previous)
        or (select every_day from judge_every_day)
),
{% else %}
days_to_judge as (
    select distinct day_key from {{ ref(validated_model) }}
),
{% endif %}

{#- Read once (DuckDB materialises a CTE read twice): the day rows come from days_to_judge. #}
validated as (
    select * from {{ ref(validated_model) }}
    {%- if incremental_state %}
    where day_key in (select day_key from days_to_judge)
    {%- endif %}
),

judged as (
    select
        validated.{{ id_column }} as record_id,
        validated.org_id,
        validated._loaded_at,
        coalesce(
            validated.rejection_reason,
            case when validated.billing_month < reference_start.first_billing_month then 'no_reference_data' end,
            'no_subscription'
        ) as reason,
        validated.day_key
    from validated
    cross join reference_start
    left join orgs_subscribed
        on validated.org_id = orgs_subscribed.org_id
    where validated.rejection_reason is not null
        or not {{ overages.is_billed_month('validated.billing_month', 'orgs_subscribed.first_billing_month') }}
),

{{ overages.with_day_rows('judged', {'_consumed_batch_at': 'select max(_batch_at) from ' ~ ref(validated_model)}) }}

select * from final
{%- endmacro %}
