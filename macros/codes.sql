{#
    Normalising the text codes that arrive in raw tables in any letter case and with stray spaces.
#}

{#
    Replace every match of a regular expression. DuckDB replaces only the first match unless told 'g';
    Spark replaces every match. Patterns here use no backslashes, which the engines escape differently.
#}
{% macro regexp_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'overages')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}')
{%- endmacro %}

{% macro duckdb__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}


{# Text, trimmed, and null where nothing is left: ids, and codes before their own rules. #}
{% macro clean_id(column) -%}
    nullif(trim(cast({{ column }} as {{ dbt.type_string() }})), '')
{%- endmacro %}


{# An upper-case code such as a currency: ' usd ' -> 'USD'. #}
{% macro clean_upper_code(column) -%}
    upper({{ overages.clean_id(column) }})
{%- endmacro %}


{# A lower-case code with words joined by underscores: ' Case Management ' -> 'case_management'. #}
{% macro clean_code(column) -%}
    {{ overages.regexp_replace_all("lower(" ~ overages.clean_id(column) ~ ")", "[ -]+", "_") }}
{%- endmacro %}


{#
    A licence tier in the canonical form of the reference data: case-insensitive, with or without a
    leading 'Genesys Cloud', with any spaces, hyphens or underscores inside.
    'Genesys Cloud CX2 Digital', 'cx2-digital' and 'CX 2 Digital' all become 'CX2_DIGITAL'.
    A value that is not a tier comes out as some other text, which validation rejects.
#}
{% macro canonical_license_tier(column) -%}
    {%- set upper_text = overages.clean_upper_code(column) -%}
    {%- set without_brand = "regexp_replace(" ~ upper_text ~ ", '^GENESYS[ _-]*CLOUD', '')" -%}
    nullif(replace({{ overages.regexp_replace_all(without_brand, "[ _-]+", "") }}, 'DIGITAL', '_DIGITAL'), '')
{%- endmacro %}
