{#
    Schemas are exactly the ones a model or seed asks for (raw, marts, audit, reference, staging,
    intermediate), not prefixed with the target's schema: analysts and BI tools query `marts`, and
    docs/rules.md names those schemas.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
