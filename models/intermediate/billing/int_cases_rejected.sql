{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **overages.replace_partitions_config('day_key')
    )
}}
{#
    Every rejected case with its reason: its own fault, or no_subscription (macros/rejections.sql).
    Incremental by the day of the validated rows, with one day row (reason null) per judged day.
#}
{{ overages.rejected_usage_rows('int_cases_validated', 'case_id') }}
