{# Every rejected case with its reason: its own fault, or no_subscription (macros/rejections.sql). #}
{{ overages.rejected_usage_rows('int_cases_validated') }}
