{# Every rejected AI token event with its reason: its own fault, or no_subscription (macros/rejections.sql). #}
{{ overages.rejected_usage_rows('int_ai_token_events_validated') }}
