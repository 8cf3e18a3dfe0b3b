{#
    Incremental validation by billing month (the large event tables).

    A build revalidates only the months that rows landed since the previous build touch: the months of
    the new rows (landed at or after the table's latest _loaded_at, or with no _loaded_at: rows landed
    in the same instant as the last ones seen are looked at again), and the months of
    earlier rows that share an id with a new row, since a re-sent correction can move an id's winner from
    one month to another. Every row of an id present in those months is ranked again (rule 2 needs them
    all), but only the touched months are written back (delete+insert on month_key). Rows whose
    timestamp is missing live in a month_key of their own, so that they too are replaced, not repeated.

    The macro renders the CTEs `source_rows`, `touched_months` (incremental runs only) and
    `candidate_rows`; the model ranks and validates candidate_rows and ends with
    `{{ overages.only_touched_months() }}`. Rows landed later with an older _loaded_at, or rows removed from
    raw, cannot be seen this way: the CLI checks for them before each build (overages.runs.incremental_drift)
    and rebuilds in full when it finds any.
#}
{% macro month_key(billing_month) -%}
    coalesce({{ billing_month }}, cast('{{ var("missing_month_key") }}' as date))
{%- endmacro %}


{% macro incremental_candidate_rows(staging_model, id_column, timestamp_column) -%}
source_rows as (
    select
        *,
        {{ overages.month_of(timestamp_column) }} as billing_month,
        {{ overages.month_key(overages.month_of(timestamp_column)) }} as month_key
    from {{ ref(staging_model) }}
),

{% if is_incremental() %}
loaded_through as (
    select max(_loaded_at) as watermark from {{ this }}
),

landed_since as (
    select source_rows.{{ id_column }}, source_rows.month_key
    from source_rows
    cross join loaded_through
    where loaded_through.watermark is null
        or source_rows._loaded_at is null
        or source_rows._loaded_at >= loaded_through.watermark
),

touched_months as (
    select month_key from landed_since
    union
    select source_rows.month_key
    from source_rows
    inner join (select distinct {{ id_column }} from landed_since where {{ id_column }} is not null) as new_ids
        on source_rows.{{ id_column }} = new_ids.{{ id_column }}
),

rows_in_touched_months as (
    select * from source_rows
    where month_key in (select month_key from touched_months)
),

candidate_rows as (
    select * from source_rows
    where {{ id_column }} in (
        select {{ id_column }} from rows_in_touched_months where {{ id_column }} is not null
    )
    union all
    select * from rows_in_touched_months
    where {{ id_column }} is null
)
{% else %}
candidate_rows as (
    select * from source_rows
)
{% endif %}
{%- endmacro %}


{# The closing filter of an incrementally validated model: write back only the touched months. #}
{% macro only_touched_months(alias) -%}
    {% if is_incremental() %}
    where {{ alias }}.month_key in (select month_key from touched_months)
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
