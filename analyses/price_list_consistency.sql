{#
    The price-list consistency findings: each currency's price divided by the USD price should be one rate
    across the three features. Lists every figure with its ratio and the rates of the currency's other
    features; a figure whose ratio differs from both others departs (as published: case price in BRL).
#}
with

list_prices as (
    select * from {{ ref('ref_list_prices') }}
),

ratios as (
    select
        prices.feature,
        prices.currency,
        prices.unit_price,
        prices.published_figure,
        usd.unit_price as usd_unit_price,
        {# Division gives a float: rounded, so 0.44 / 0.40 and 19.80 / 18.00 compare equal. #}
        round(prices.unit_price / usd.unit_price, 6) as ratio_to_usd
    from list_prices as prices
    inner join list_prices as usd
        on prices.feature = usd.feature
        and usd.currency = 'USD'
        and prices.valid_from = usd.valid_from
),

with_others as (
    select
        ratios.*,
        (
            select min(others.ratio_to_usd) from ratios as others
            where others.currency = ratios.currency and others.feature <> ratios.feature
        ) as lowest_other_ratio,
        (
            select max(others.ratio_to_usd) from ratios as others
            where others.currency = ratios.currency and others.feature <> ratios.feature
        ) as highest_other_ratio
    from ratios
)

select
    *,
    lowest_other_ratio = highest_other_ratio and ratio_to_usd <> lowest_other_ratio as departs
from with_others
order by departs desc, currency, feature
