{#
    One row per day from 2015-01-01 for 9,999 days: the time spine MetricFlow joins time-based metrics to.
#}
with

day_offsets as (
    {{ overages.integers_0_to_9999() }}
),

days as (
    select cast({{ dbt.dateadd('day', 'n', "cast('2015-01-01' as date)") }} as date) as date_day
    from day_offsets
)

select * from days
