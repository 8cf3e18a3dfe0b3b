{# fct_invoices has one subtotal column per feature: a feature added to ref_features needs its column. #}
select feature
from {{ ref('ref_features') }}
where
    feature not in (
        {%- for feature in var('invoice_subtotal_features') %}
        '{{ feature }}'{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
