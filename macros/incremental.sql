{#
    Incremental validation by billing month (the large event tables).

    A build revalidates only the months that rows landed since the previous build touch, and within them
    only the days: the days of
    the new rows (landed after the table's latest _loaded_at, or with no _loaded_at), and the days of
    earlier rows that
    share an id with a new row, since a re-sent correction can move an id's winner from one month to
    another. Every row of an id present in those days is ranked again (rule 2 needs them all), but only
    the touched days are written back (delete+insert on day_key): a day of corrections costs a day, not a
    month. Rows whose timestamp is missing live in a day_key of their own, so that they too are replaced,
    not repeated. The monthly aggregates downstream are rebuilt for every month holding a rewritten day.

    The macro renders the CTEs `source_rows`, `touched_days` (incremental runs only) and
    `candidate_rows`; the model ranks and validates candidate_rows and ends with
    `{{ overages.only_touched_days() }}`. Rows landed later with an older or equal _loaded_at, or rows
    removed from raw, cannot be seen this way: the CLI checks for them before each build
    (overages.runs.incremental_drift) and rebuilds in full when it finds any.
#}
{% macro month_key(billing_month) -%}
    coalesce({{ billing_month }}, cast('{{ var("missing_month_key") }}' as date))
{%- endmacro %}


{# The incremental partition of a row: the UTC day of its timestamp, or the missing-timestamp key. #}
{% macro day_key(timestamp_column) -%}
    coalesce(cast({{ timestamp_column }} as date), cast('{{ var("missing_month_key") }}' as date))
{%- endmacro %}


{#
    columns: the staging model's columns (both sides of the union list them by name, in this order). An
    incremental run reads from raw (through staging) only the rows landed since the table's watermark (or
    landed without _loaded_at); every earlier row it needs is read back from the table itself, already
    cleaned. That relies on raw being landed, not edited: rows are added with a later _loaded_at, never
    changed or removed. The CLI's drift check, before every build, compares the counts of raw's rows and
    the table's up to the watermark and rebuilds in full when they differ (a removed row, a row landed
    with an old _loaded_at); a row edited in place keeps the count and is not seen. billing_month_column:
    the name the table keeps the billing month under.
#}
{% macro incremental_candidate_rows(staging_model, id_column, timestamp_column, columns, billing_month_column='billing_month') -%}
source_rows as (
    select
        *,
        {{ overages.month_of(timestamp_column) }} as billing_month,
        {{ overages.month_key(overages.month_of(timestamp_column)) }} as month_key,
        {{ overages.day_key(timestamp_column) }} as day_key
    from {{ ref(staging_model) }}
),

{% if is_incremental() %}
{#- The watermark as a literal, so that both engines prune the raw scan by it (a value from a subquery or
    a join is not pushed down into the scan). None: no row of the table has one; every row is then new. #}
{%- set watermark = overages.latest_loaded_at(this) %}
landed_since as (
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        billing_month,
        month_key,
        day_key
    from source_rows
    {%- if watermark is not none %}
    where _loaded_at > {{ overages.timestamp_literal(watermark) }} or _loaded_at is null
    {%- endif %}
),

{#- The table's rows up to the watermark, in staging's shape; each use below filters it first. #}
{%- set kept_rows -%}
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        {{ billing_month_column }} as billing_month,
        month_key,
        day_key
    from {{ this }}
    {%- if watermark is not none %}
    where _loaded_at <= {{ overages.timestamp_literal(watermark) }}
    {%- else %}
    where 1 = 0
    {%- endif %}
{%- endset %}

new_ids as (
    select distinct {{ id_column }} from landed_since where {{ id_column }} is not null
),

touched_days as (
    select day_key from landed_since
    union
    select day_key from ({{ kept_rows }}) as kept
    where {{ id_column }} in (select {{ id_column }} from new_ids)
),

touched_ids as (
    select {{ id_column }} from ({{ kept_rows }}) as kept
    where day_key in (select day_key from touched_days) and {{ id_column }} is not null
    union
    select {{ id_column }} from new_ids
),

candidate_rows as (
    select * from landed_since
    union all
    select * from ({{ kept_rows }}) as kept
    where {{ id_column }} in (select {{ id_column }} from touched_ids)
    union all
    select * from ({{ kept_rows }}) as kept
    where {{ id_column }} is null and day_key in (select day_key from touched_days)
)
{% else %}
candidate_rows as (
    select * from source_rows
)
{% endif %}
{%- endmacro %}


{# The latest _loaded_at of a relation, as text (none when it has no row with one; none at parse time). #}
{% macro latest_loaded_at(relation) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set result = run_query('select cast(max(_loaded_at) as ' ~ dbt.type_string() ~ ') from ' ~ relation) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}

{% macro timestamp_literal(text) -%}
    cast('{{ text }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{# The closing filter of an incrementally validated model: write back only the touched days. #}
{% macro only_touched_days(alias) -%}
    {% if is_incremental() %}
    where {{ alias }}.day_key in (select day_key from touched_days)
    {% endif %}
{%- endmacro %}


{#
    The aggregates of an incrementally validated table are rebuilt for the months it rewrote since they
    last read it (its _batch_at is later than the latest one they consumed), so that a build that stopped
    between the two models is caught up by the next one.
#}
{% macro months_rebuilt_since_last_read(validated_model) -%}
    {% if is_incremental() %}
    where month_key in (
        select distinct month_key
        from {{ ref(validated_model) }}
        where _batch_at > (select coalesce(max(_consumed_batch_at), cast('1900-01-01' as timestamp)) from {{ this }})
    )
    {% endif %}
{%- endmacro %}


{# The instant this build started: stamps the rows an incremental model writes. #}
{% macro batch_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#
    How an incremental model replaces the partitions (days or months) it rewrites. DuckDB deletes the
    rows of the rewritten keys and inserts the new ones (delete+insert on unique_key); Spark has no
    delete on parquet tables and overwrites the table's partitions holding the new rows instead
    (insert_overwrite on partition_by, with spark.sql.sources.partitionOverwriteMode=dynamic). Both
    replace exactly the keys present in the new rows. Use in a model's config:
    {{ config(materialized='incremental', **overages.replace_partitions_config('day_key')) }}
#}
{% macro replace_partitions_config(key_column) -%}
    {{ return(adapter.dispatch('replace_partitions_config', 'overages')(key_column)) }}
{%- endmacro %}

{% macro default__replace_partitions_config(key_column) -%}
    {{ return({'incremental_strategy': 'delete+insert', 'unique_key': key_column}) }}
{%- endmacro %}

{% macro spark__replace_partitions_config(key_column) -%}
    {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [key_column], 'file_format': 'parquet'}) }}
{%- endmacro %}


{#
    The models that judge rows against other tables (no_subscription, unknown_case) are incremental by
    the day_key of the validated rows they judge. Each rewritten day gets, besides its judged rows, one
    "day row" (every value null but day_key and the bookkeeping columns), so that a day whose rows all
    become accepted is still replaced rather than left with its stale rejections: both engines replace
    only the keys present in the new rows. The bookkeeping columns say what the day was judged with:
    the validated batches consumed and a fingerprint of int_orgs_subscribed. A change of the
    fingerprint (a subscription landed late, a first subscription moved) rejudges every day.
#}

{#
    The CTEs `day_rows` and `final` of a rejected-rows model judged by day: the judged rows (CTE `judged`:
    record_id, org_id, _loaded_at, reason, day_key), one day row per day of CTE `days_to_judge`, and on
    every row the fingerprint of CTE `orgs_fingerprint` and the bookkeeping columns (name: a query of one
    value) saying what the days were judged with.
#}
{% macro with_day_rows(judged, bookkeeping) -%}
day_rows as (
    select distinct
        cast(null as {{ dbt.type_string() }}) as record_id,
        cast(null as {{ dbt.type_string() }}) as org_id,
        cast(null as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(null as {{ dbt.type_string() }}) as reason,
        day_key
    from days_to_judge
),

final as (
    select
        rows_.record_id,
        rows_.org_id,
        rows_._loaded_at,
        rows_.reason,
        rows_.day_key,
        orgs_fingerprint.orgs_fingerprint
        {%- for name, query in bookkeeping.items() %},
        ({{ query }}) as {{ name }}
        {%- endfor %}
    from (
        select * from {{ judged }}
        union all
        select * from day_rows
    ) as rows_
    cross join orgs_fingerprint
)
{%- endmacro %}


{# One row, one column `orgs_fingerprint`: a digest of every (org_id, first_subscribed_at) of int_orgs_subscribed. #}
{% macro orgs_subscribed_fingerprint() -%}
    select coalesce(
        {{ dbt.hash(overages.ordered_string_agg(dbt.concat(['org_id', "'|'", 'cast(first_subscribed_at as ' ~ dbt.type_string() ~ ')']))) }},
        ''
    ) as orgs_fingerprint
    from {{ ref('int_orgs_subscribed') }}
{%- endmacro %}


{# The values of a text expression joined with ',' in ascending order (the same text for the same set of values). #}
{% macro ordered_string_agg(expr) -%}
    {{ return(adapter.dispatch('ordered_string_agg', 'overages')(expr)) }}
{%- endmacro %}

{% macro default__ordered_string_agg(expr) -%}
    listagg({{ expr }}, ',') within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__ordered_string_agg(expr) -%}
    string_agg({{ expr }}, ',' order by {{ expr }})
{%- endmacro %}

{% macro spark__ordered_string_agg(expr) -%}
    array_join(array_sort(collect_list({{ expr }})), ',')
{%- endmacro %}


{#
    Whether an incremental model's existing table already has the bookkeeping columns it reads back
    (a table built by an earlier version of the model lacks them: the model then judges every day, and
    on_schema_change='fail' asks for a full refresh).
#}
{% macro incremental_state_ready(columns) -%}
    {%- if not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- for column in columns -%}
        {%- if column | lower not in existing -%}
            {{ return(false) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}


{#
    Generic tests on the large incremental tables: with the var tests_scope = 'this_build' (which the CLI
    sets for an incremental build that follows a successful one), a test's `where` holding the token
    __rows_of_this_build__ checks only the rows this build wrote (their _batch_at is this build's); the
    rows left alone passed the same tests in the build that wrote them. Otherwise (full refresh, a build
    after a failed one, dbt run by hand, Spark) the token is always true and every row is tested.
#}
{% macro tests_scoped_to_this_build() -%}
    {{ return(var('tests_scope', 'all') == 'this_build' and not flags.FULL_REFRESH) }}
{%- endmacro %}

{% macro rows_of_this_build() -%}
    {%- if overages.tests_scoped_to_this_build() -%}
        _batch_at = {{ overages.batch_at() }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{% macro default__get_where_subquery(relation) -%}
    {% set where = config.get('where', '') %}
    {% if where %}
        {% set where = where | replace('__rows_of_this_build__', overages.rows_of_this_build()) %}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}

