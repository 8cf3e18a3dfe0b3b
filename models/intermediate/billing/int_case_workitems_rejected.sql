{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **overages.replace_partitions_config('day_key')
    )
}}
{#
    Every rejected case workitem with its reason: the row's own faults, then unknown_case for sound rows
    whose case is not an accepted case (rule 9). Workitems carry no org of their own: org_id is their
    case's, from the case's last-landed row, null where no such case was landed.

    Incremental by the day of the validated workitems (macros/incremental.sql: one day row, reason null,
    per judged day). A build rejudges the days the validated workitems rewrote since this model last read
    them, and the days holding a workitem of a case that has a row landed since (only such a case can
    change its verdict or its last-landed row, hence its acceptance or its org: the validated model ranks
    every row of an id again when one of them is new, and a row landed no later than the watermark makes
    the CLI rebuild in full); every day when int_orgs_subscribed changed. Cases merely rewritten with their
    day (the rows without a timestamp share one day_key, rewritten whenever one lands) do not count: their
    workitems can be on any day. Cases and workitems are matched by the cases' id_hash
    (macros/incremental.sql), an integer probe of the large tables, and then joined on case_id.
#}
{%- set incremental_state = overages.incremental_state_ready(
    ['orgs_fingerprint', '_consumed_batch_at', '_consumed_cases_batch_at', '_consumed_cases_loaded_at']) -%}
with

orgs_fingerprint as (
    {{ overages.orgs_subscribed_fingerprint() }}
),

{% if incremental_state %}
previous as (
    select
        max(_consumed_batch_at) as consumed_batch_at,
        max(_consumed_cases_batch_at) as consumed_cases_batch_at,
        max(_consumed_cases_loaded_at) as consumed_cases_loaded_at,
        min(orgs_fingerprint) as min_fingerprint,
        max(orgs_fingerprint) as max_fingerprint
    from {{ this }}
),

judge_every_day as (
    select
        previous.consumed_batch_at is null
        or previous.consumed_cases_batch_at is null
        or previous.min_fingerprint <> orgs_fingerprint.orgs_fingerprint
        or previous.max_fingerprint <> orgs_fingerprint.orgs_fingerprint as every_day
    from previous
    cross join orgs_fingerprint
),

cases_landed_since as (
    select distinct id_hash as case_id_hash
    from {{ ref('int_cases_validated') }}
    where case_id is not null
        and _batch_at > (select consumed_cases_batch_at from previous)
        and (
            _loaded_at is null
            or _loaded_at > (select consumed_cases_loaded_at from previous)
            or (select consumed_cases_loaded_at from previous) is null
        )
),

{#- Three queries rather than one with `or`: each is then a filter DuckDB can push into its scan (the
    digests of the cases as a bloom filter), not a probe of every workitem (100M events: this query 6.7 s -> 5.4 s). #}
days_to_judge as (
    select day_key from {{ ref('int_case_workitems_validated') }}
    where _batch_at > (select consumed_batch_at from previous)
    union
    select day_key from {{ ref('int_case_workitems_validated') }}
    where case_id_hash in (select case_id_hash from cases_landed_since)
    union
    select day_key from {{ ref('int_case_workitems_validated') }}
    where (select every_day from judge_every_day)
),

workitems as (
    select * from {{ ref('int_case_workitems_validated') }}
    where day_key in (select day_key from days_to_judge)
),

cases_of_workitems as (
    select distinct case_id_hash from workitems where case_id is not null
),

{#- The last-landed row of each case looked up, by id_hash (overages.id_hash: an integer probe of every
    case; a hash shared with another case only adds that case's row, which no workitem joins). Every case
    when every day is judged. The `or` also keeps DuckDB from building its hash table on the ~100 million
    cases rather than on the cases looked up (it misjudges both sides' sizes here): it probes each case
    against the looked-up set instead, in a fraction of the time and memory. #}
case_winners as (
    select case_id, org_id, billing_month, rejection_reason
    from {{ ref('int_cases_validated') }}
    where landing_rank = 1
        and (
            id_hash in (select case_id_hash from cases_of_workitems)
            or (select every_day from judge_every_day)
        )
),

{% else %}
days_to_judge as (
    select distinct day_key from {{ ref('int_case_workitems_validated') }}
),

{#- Read once (DuckDB materialises a CTE read twice): the day rows come from days_to_judge. #}
workitems as (
    select * from {{ ref('int_case_workitems_validated') }}
),

case_winners as (
    select case_id, org_id, billing_month, rejection_reason
    from {{ ref('int_cases_validated') }}
    where case_id is not null and landing_rank = 1
),
{% endif %}

{#- Each case's org (its last-landed row's) and whether it is accepted: a sound row of an org subscribed
    at the end of its month (the test int_cases_rejected applies for no_subscription). #}
case_verdicts as (
    select
        case_winners.case_id,
        case_winners.org_id,
        case
            when case_winners.rejection_reason is null
                and {{ overages.is_billed_month('case_winners.billing_month', 'orgs_subscribed.first_billing_month') }}
                then 1
            else 0
        end as is_accepted
    from case_winners
    left join {{ ref('int_orgs_subscribed') }} as orgs_subscribed
        on case_winners.org_id = orgs_subscribed.org_id
),

rejected as (
    select
        workitems.workitem_id as record_id,
        case_verdicts.org_id,
        workitems._loaded_at,
        coalesce(workitems.rejection_reason, 'unknown_case') as reason,
        workitems.day_key
    from workitems
    left join case_verdicts
        on workitems.case_id = case_verdicts.case_id
    where workitems.rejection_reason is not null
        or coalesce(case_verdicts.is_accepted, 0) = 0
),

{{ overages.with_day_rows('rejected', {
    '_consumed_batch_at': 'select max(_batch_at) from ' ~ ref('int_case_workitems_validated'),
    '_consumed_cases_batch_at': 'select max(_batch_at) from ' ~ ref('int_cases_validated'),
    '_consumed_cases_loaded_at': 'select max(_loaded_at) from ' ~ ref('int_cases_validated') ~ ' where ' ~ overages.landed_by_its_batch(),
}) }}

select * from final
