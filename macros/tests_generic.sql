{#
    Generic data tests this project needs and would otherwise take from dbt_utils (which cannot be
    fetched here).
#}

{#
    No two rows share the given column combination. With keys_of_this_build (one column only), an
    incremental build whose tests are scoped to it (macros/incremental.sql) checks the keys of the rows it
    wrote, against every row of the table: the other keys passed when their rows were written.
#}
{% test unique_combination(model, columns, keys_of_this_build=false) %}
    {%- if keys_of_this_build and columns | length != 1 -%}
        {{ exceptions.raise_compiler_error("unique_combination: keys_of_this_build takes exactly one column") }}
    {%- endif %}
    with rows_ as (
        select * from {{ model }}
    )

    select
        {{ columns | join(', ') }},
        count(*) as row_count
    from rows_
    {%- if keys_of_this_build and overages.tests_scoped_to_this_build() %}
    where {{ columns[0] }} in (select {{ columns[0] }} from rows_ where {{ overages.rows_of_this_build() }})
    {%- endif %}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}


{#
    Effective-dated reference rows: every row's interval is non-empty (valid_to > valid_from) and no two
    rows of the same key are in force on the same day.
#}
{% test effective_dated(model, key) %}
    with rows_ as (
        select * from {{ model }}
    ),

    empty_intervals as (
        select {{ key | join(', ') }}, valid_from, valid_to, 'valid_to <= valid_from' as fault
        from rows_
        where valid_to is not null and valid_to <= valid_from
    ),

    overlapping_rows as (
        select
            {% for column in key %}earlier.{{ column }}, {% endfor %}
            later.valid_from,
            later.valid_to,
            'overlaps an earlier row' as fault
        from rows_ as earlier
        inner join rows_ as later
            on {% for column in key %}earlier.{{ column }} = later.{{ column }} and {% endfor %}
            earlier.valid_from < later.valid_from
            and (earlier.valid_to is null or earlier.valid_to > later.valid_from)
    )

    select * from empty_intervals
    union all
    select * from overlapping_rows
{% endtest %}


{# Every row's expression is true (a row-level invariant); a row where it is false or null fails. #}
{% test expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{% endtest %}
