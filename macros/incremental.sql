{#
    Incremental validation by billing month (the large event tables).

    A build revalidates only the months that rows landed since the previous build touch, and within them
    only the days: the days of the new rows (landed after the table's latest _loaded_at, or with no
    _loaded_at), and the days of earlier rows that share an id with a new row, since a re-sent correction
    can move an id's winner from one month to another. Every row of a new id is ranked again (rule 2 needs
    them all); the other rows of the touched days keep the verdict they have, since no row of their id is
    new. Only the touched days are written back (delete+insert on day_key): a day of corrections costs a
    day, not a month. Rows whose timestamp is missing live in a day_key of their own, so that they too are
    replaced, not repeated. The monthly aggregates downstream are rebuilt for every month holding a
    rewritten day.

    The macro renders the CTEs `source_rows` and `candidate_rows` (and on incremental runs `touched_days`
    and `unchanged_rows`); the model ranks and validates candidate_rows and ends with
    `{{ overages.validated_rows('validated') }}`. Rows landed later with an older or equal _loaded_at, or
    rows removed from raw, cannot be seen this way: the CLI checks for them before each build
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
{% macro incremental_candidate_rows(staging_model, id_column, timestamp_column, columns,
    billing_month_column='billing_month') -%}
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
    a join is not pushed down into the scan). None: no row of the table has one, or the table's id_hash
    values are not what this engine computes (a new engine version): every row is then new, read again
    from raw and written back with its digest. #}
{%- set watermark = none if overages.id_hash_changed(this, id_column) else overages.latest_loaded_at(this) %}
{%- set landed_filter = ('_loaded_at > ' ~ overages.timestamp_literal(watermark) ~ ' or _loaded_at is null')
    if watermark is not none %}
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
    where {{ landed_filter }}
    {%- endif %}
),

{#- The table's earlier rows (up to the watermark) of the new ids, in staging's shape. Looked up by id_hash,
    an integer: a probe of every row of the table, several times cheaper than by the text id. A hash shared
    by another id only adds that id's rows: it is ranked again with all of them, to the same verdict. #}
new_ids as (
    select distinct {{ overages.id_hash(id_column) }} as id_hash
    from landed_since
    where {{ id_column }} is not null
),

kept_of_new_ids as (
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        {{ billing_month_column }} as billing_month,
        month_key,
        day_key
    from {{ this }}
    {%- if watermark is not none %}
    {#- The digests are those of new_ids, read again from staging rather than from new_ids: DuckDB pushes a
        bloom filter of them into this table's scan only when they come from a query of their own, not from
        a CTE that other parts of the query read too (100M events: the workitems' model 5.7 s -> 2.4 s). #}
    {%- set landed_digests -%}
        select {{ overages.id_hash(id_column) }}
        from {{ ref(staging_model) }}
        where ({{ landed_filter }}) and {{ id_column }} is not null
    {%- endset %}
    where {{ overages.rows_found_narrowly(this,
        '_loaded_at <= ' ~ overages.timestamp_literal(watermark) ~ ' and id_hash in (' ~ landed_digests ~ ')') }}
    {%- else %}
    where 1 = 0
    {%- endif %}
),

touched_days as (
    select day_key from landed_since
    union
    select day_key from kept_of_new_ids
),

candidate_rows as (
    select * from landed_since
    union all
    select * from kept_of_new_ids
),

{#- The other earlier rows of the touched days keep their verdict: no row of their id is new, so their rank
    is what it was (and a row without an id is missing_id whatever lands). They are written back with the
    day, stamped with this build's _batch_at. #}
{%- set written_columns = overages.column_names(this) %}
unchanged_rows as (
    select
        {%- for column in written_columns %}
        {% if column == '_batch_at' %}{{ overages.batch_at() }} as _batch_at{% else %}kept.{{ column }}{% endif %}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ this }} as kept
    left join new_ids
        on kept.id_hash = new_ids.id_hash
    {%- if watermark is not none %}
    where {{ overages.rows_found_narrowly(this,
            '_loaded_at <= ' ~ overages.timestamp_literal(watermark) ~ ' and day_key in (select day_key from touched_days)',
            'kept') }}
        and new_ids.id_hash is null
    {%- else %}
    where 1 = 0
    {%- endif %}
)
{% else %}
candidate_rows as (
    select * from source_rows
)
{% endif %}
{%- endmacro %}


{#
    A filter on a large table that few of its rows pass: `condition` (on the table's own columns) as a
    where clause's term, for the rows of `relation` (aliased `alias`, if given) it selects. DuckDB reads
    every column of a vector that holds a passing row, and a probe of new ids by a bloom filter passes a
    few rows of almost every vector: so it first finds the row ids by reading only the condition's
    columns, then reads the whole rows of those ids (30M events: 2.5 s -> 0.7 s for the workitems). Other
    engines take the condition as it is (Spark reads the parquet columns it needs and prunes partitions).
#}
{% macro rows_found_narrowly(relation, condition, alias=none) -%}
    {{ return(adapter.dispatch('rows_found_narrowly', 'overages')(relation, condition, alias)) }}
{%- endmacro %}

{% macro default__rows_found_narrowly(relation, condition, alias=none) -%}
    ({{ condition }})
{%- endmacro %}

{% macro duckdb__rows_found_narrowly(relation, condition, alias=none) -%}
    {{ (alias ~ '.') if alias }}rowid in (select rowid from {{ relation }} where {{ condition }})
{%- endmacro %}


{#
    The watermark of an incrementally validated table, as text (none when it has no such row; none at parse
    time): the latest _loaded_at among its rows landed no later than the build that wrote them started
    (_loaded_at <= _batch_at). A row whose _loaded_at was still in the future then (rule 13) is above it,
    so it is read again from raw by every build until one starts after its _loaded_at: it never hides the
    rows landed after it (their _loaded_at is earlier than its own), nor makes the drift check see rows
    "landed up to the watermark" that the table lacks.
#}
{% macro latest_loaded_at(relation) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set result = run_query('select cast(max(_loaded_at) as ' ~ dbt.type_string() ~ ') from ' ~ relation
        ~ ' where ' ~ overages.landed_by_its_batch()) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}

{# A row of an incrementally validated table whose _loaded_at is not later than its build's start. #}
{% macro landed_by_its_batch() -%}
    _loaded_at <= _batch_at
{%- endmacro %}

{# The column names of a relation, lower case, in the table's order. #}
{% macro column_names(relation) -%}
    {{ return(adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list) }}
{%- endmacro %}

{# Whether some of the first rows of a relation hold an id_hash other than overages.id_hash of their id. #}
{% macro id_hash_changed(relation, id_column) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set result = run_query(
        'select count(*) from (select ' ~ id_column ~ ', id_hash from ' ~ relation ~ ' where ' ~ id_column
        ~ ' is not null limit 1000) as sample_rows where not (id_hash = ' ~ overages.id_hash(id_column)
        ~ ') or id_hash is null'
    ) -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}

{% macro timestamp_literal(text) -%}
    cast('{{ text }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#
    id_hash: an integer digest of an id (null for a null id), kept beside the id in the large validated
    tables so that an incremental build finds earlier rows of an id, or the cases of workitems, by an
    integer probe. Each engine's own 64-bit hash (63 bits on DuckDB): equal ids always have equal digests.
    Different ids rarely share one (a million new ids against 100 million rows: about one chance in
    100,000 per build), and the models treat a shared digest as a possible match only: it adds that id's
    rows, ranked again to the same verdict, and rewrites their day.
#}
{% macro id_hash(column) -%}
    {{ return(adapter.dispatch('id_hash', 'overages')(column)) }}
{%- endmacro %}

{% macro default__id_hash(column) -%}
    {{ exceptions.raise_compiler_error("overages.id_hash has no implementation for the " ~ target.type ~ " adapter") }}
{%- endmacro %}

{% macro duckdb__id_hash(column) -%}
    case when {{ column }} is not null then cast(hash({{ column }}) >> 1 as bigint) end
{%- endmacro %}

{% macro spark__id_hash(column) -%}
    case when {{ column }} is not null then xxhash64({{ column }}) end
{%- endmacro %}


{#
    The closing select of an incrementally validated model: its validated candidate rows and, on an
    incremental run, the unchanged rows of the touched days (both listed by the table's column names).
#}
{% macro validated_rows(alias) -%}
    {%- if is_incremental() %}
    {%- set written_columns = overages.column_names(this) %}
select {{ written_columns | join(', ') }} from {{ alias }}
union all
select {{ written_columns | join(', ') }} from unchanged_rows
    {%- else %}
select * from {{ alias }}
    {%- endif %}
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


{#
    One row, one column `orgs_fingerprint`: a digest of every (org_id, first_subscribed_at, first_billing_month)
    of int_orgs_subscribed, and the first month of the reference data (a change of either rejudges every day).
#}
{% macro orgs_subscribed_fingerprint() -%}
    select {{ dbt.concat([
        "coalesce(" ~ dbt.hash(overages.ordered_string_agg(dbt.concat([
            'orgs.org_id', "'|'", 'cast(orgs.first_subscribed_at as ' ~ dbt.type_string() ~ ')', "'|'",
            'cast(orgs.first_billing_month as ' ~ dbt.type_string() ~ ')'
        ]))) ~ ", '')",
        "'|'",
        "max(cast(reference_start.first_billing_month as " ~ dbt.type_string() ~ "))",
    ]) }} as orgs_fingerprint
    from {{ ref('int_reference_data_start') }} as reference_start
    left join {{ ref('int_orgs_subscribed') }} as orgs
        on 1 = 1
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
    {%- set existing = overages.column_names(this) -%}
    {%- for column in columns -%}
        {%- if column | lower not in existing -%}
            {{ return(false) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}


{#
    Generic tests on the large incremental tables: with the scope 'this_build' (which the CLI sets for an
    incremental build that follows a successful one), a test's `where` holding the token
    __rows_of_this_build__ checks only the rows this build wrote (their _batch_at is this build's); the
    rows left alone passed the same tests in the build that wrote them. Otherwise (full refresh, a build
    after a failed one, dbt run by hand, Spark) the token is always true and every row is tested.
    The CLI gives the scope in the environment (OVERAGES_TESTS_SCOPE), read only while tests run: read
    while parsing, or given as a var, a value that changes from build to build would make dbt parse the
    whole project again. By hand, --vars '{tests_scope: this_build}' does the same.
#}
{% macro tests_scoped_to_this_build() -%}
    {%- set scope = var('tests_scope', 'all') -%}
    {%- if execute and scope == 'all' -%}
        {%- set scope = env_var('OVERAGES_TESTS_SCOPE', 'all') -%}
    {%- endif -%}
    {{ return(scope == 'this_build' and not flags.FULL_REFRESH) }}
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
