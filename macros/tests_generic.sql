{#
    Generic data tests this project needs and would otherwise take from dbt_utils (which cannot be
    fetched here).
#}

{# No two rows share the given column combination. #}
{% test unique_combination(model, columns) %}
    select
        {{ columns | join(', ') }},
        count(*) as row_count
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}


{#
    None of the given columns is null: the not-null checks of one model in one query (a column-level not_null
    test apiece costs dbt a node and a query each). A failing row names the first column found null in it.
#}
{% test not_null_columns(model, columns) %}
    select
        case
            {% for column in columns %}when {{ column }} is null then '{{ column }}'
            {% endfor %}
        end as null_column
    from {{ model }}
    where {% for column in columns %}{{ column }} is null{% if not loop.last %} or {% endif %}{% endfor %}
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


{# The model has exactly `count` rows: for a model whose grain is "one row" (int_billing_horizon). #}
{% test row_count_equals(model, count) %}
    select row_count
    from (select count(*) as row_count from {{ model }}) as counted
    where row_count != {{ count }}
{% endtest %}
