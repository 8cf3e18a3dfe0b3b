-- The floor: the billing rules of docs/rules.md as one hand-written DuckDB script on the raw tables, no dbt.
-- Writes schema `floor`: fct_monthly_overages, fct_invoice_lines, rejected_rows (same columns and types as
-- marts.fct_monthly_overages, marts.fct_invoice_lines and audit.rejected_rows).
-- Reference data is read from the seed CSVs: __SEEDS__ is replaced by their folder (benchmarks/floor.py).
-- Rule numbers below are those of docs/rules.md. Ties are broken as the models break them.

create schema if not exists floor;

-- Codes as staging normalises them.
create or replace temp macro clean_id(x) as nullif(trim(cast(x as varchar)), '');
create or replace temp macro clean_code(x) as regexp_replace(lower(clean_id(x)), '[ -]+', '_', 'g');
create or replace temp macro clean_tier(x) as nullif(replace(regexp_replace(
    regexp_replace(upper(clean_id(x)), '^GENESYS[ _-]*CLOUD', ''), '[ _-]+', '', 'g'), 'DIGITAL', '_DIGITAL'), '');
create or replace temp macro month_of(t) as cast(date_trunc('month', t) as date);
create or replace temp macro next_month_of(t) as cast(date_trunc('month', t) + interval 1 month as date);

-- Reference data (the seeds), effective-dated.
create or replace temp table ref_features as
select feature, product_feature, unit, nullif(invoice_code, '') as invoice_code,
       cast(valid_from as date) as valid_from, cast(nullif(valid_to, '') as date) as valid_to
from read_csv('__SEEDS__/ref_features.csv', header = true, all_varchar = true);

create or replace temp table ref_currencies as
select currency, cast(minor_units as integer) as minor_units,
       cast(valid_from as date) as valid_from, cast(nullif(valid_to, '') as date) as valid_to
from read_csv('__SEEDS__/ref_currencies.csv', header = true, all_varchar = true);

create or replace temp table ref_free_allocations as
select license_tier, license_type, feature, cast(free_quantity as decimal(18, 4)) as free_quantity,
       cast(valid_from as date) as valid_from, cast(nullif(valid_to, '') as date) as valid_to
from read_csv('__SEEDS__/ref_free_allocations.csv', header = true, all_varchar = true);

create or replace temp table ref_list_prices as
select feature, currency, cast(unit_price as decimal(18, 4)) as unit_price,
       cast(valid_from as date) as valid_from, cast(nullif(valid_to, '') as date) as valid_to
from read_csv('__SEEDS__/ref_list_prices.csv', header = true, all_varchar = true);

create or replace temp table known_tiers as
select distinct license_tier from read_csv('__SEEDS__/ref_license_tiers.csv', header = true, all_varchar = true);
create or replace temp table known_types as
select distinct license_type from read_csv('__SEEDS__/ref_license_types.csv', header = true, all_varchar = true);

-- Subscriptions: rule 2 among complete keys, then rule 9's reasons.
create or replace temp table subs as
with s as (
    select clean_id(org_id) as org_id, cast(org_name as varchar) as org_name,
           cast(license_tier as varchar) as tier_landed, clean_tier(license_tier) as license_tier,
           clean_code(license_type) as license_type, upper(clean_id(billing_currency)) as billing_currency,
           cast(effective_from as timestamp) as effective_from, cast(_loaded_at as timestamp) as _loaded_at
    from raw.org_subscriptions
),
r as (
    select *, row_number() over (
        partition by org_id, effective_from
        order by _loaded_at desc nulls last, tier_landed asc nulls last, license_type asc nulls last,
                 billing_currency asc nulls last, org_name asc nulls last) as rn
    from s
)
select r.*,
    case
        when org_id is not null and effective_from is not null and rn > 1 then 'duplicate'
        when org_id is null then 'missing_org'
        when effective_from is null then 'missing_timestamp'
        when license_tier is null or license_tier not in (select license_tier from known_tiers)
            then 'unknown_license_tier'
        when license_type is null or license_type not in (select license_type from known_types)
            then 'unknown_license_type'
        when billing_currency is null or billing_currency not in (select currency from ref_currencies)
            then 'unknown_currency'
    end as reason
from r;

create or replace temp table accepted_subs as
select org_id, org_name, license_tier, license_type, billing_currency, effective_from
from subs where reason is null;

-- Orgs with an accepted subscription, and since when (rule 3 sees only accepted rows).
create or replace temp table orgs_subscribed as
select org_id, min(effective_from) as first_subscribed_at, month_of(min(effective_from)) as first_billing_month
from accepted_subs group by org_id;

-- AI token events: row-level verdict (rule 2, then the row's own faults in rule 9's order).
create or replace temp table events as
with s as (
    select clean_id(event_id) as event_id, clean_id(org_id) as org_id, cast(occurred_at as timestamp) as occurred_at,
           cast(tokens as decimal(28, 8)) as tokens, nullif(trim(cast(ai_feature as varchar)), '') as ai_feature,
           cast(_loaded_at as timestamp) as _loaded_at
    from raw.ai_token_events
),
r as (
    select *, row_number() over (
        partition by event_id
        order by _loaded_at desc nulls last, org_id asc nulls last, occurred_at asc nulls last,
                 tokens asc nulls last, ai_feature asc nulls last) as rn
    from s
)
select event_id, org_id, occurred_at, month_of(occurred_at) as billing_month, tokens, _loaded_at,
    case
        when event_id is null then 'missing_id'
        when rn > 1 then 'duplicate'
        when org_id is null then 'missing_org'
        when occurred_at is null then 'missing_timestamp'
        when tokens is null or tokens < 0 then 'invalid_quantity'
    end as reason
from r;

-- Cases, likewise.
create or replace temp table cases as
with s as (
    select clean_id(case_id) as case_id, clean_id(org_id) as org_id, cast(created_at as timestamp) as created_at,
           cast(_loaded_at as timestamp) as _loaded_at
    from raw.cases
),
r as (
    select *, row_number() over (
        partition by case_id
        order by _loaded_at desc nulls last, org_id asc nulls last, created_at asc nulls last) as rn
    from s
)
select case_id, org_id, created_at, month_of(created_at) as billing_month, _loaded_at, rn,
    case
        when case_id is null then 'missing_id'
        when rn > 1 then 'duplicate'
        when org_id is null then 'missing_org'
        when created_at is null then 'missing_timestamp'
    end as reason
from r;

-- Usage per org and month of sound rows whose org is subscribed at the end of the month (rules 4, 9).
create or replace temp table token_usage as
select e.org_id, e.billing_month, cast(sum(e.tokens) as decimal(18, 4)) as usage_quantity,
       max(e.occurred_at) as last_at
from events as e
join orgs_subscribed as o on e.org_id = o.org_id
where e.reason is null and o.first_subscribed_at < next_month_of(e.billing_month)
group by e.org_id, e.billing_month;

create or replace temp table accepted_cases as
select c.case_id, c.org_id, c.billing_month, c.created_at
from cases as c
join orgs_subscribed as o on c.org_id = o.org_id
where c.reason is null and o.first_subscribed_at < next_month_of(c.billing_month);

create or replace temp table case_usage as
select org_id, billing_month, cast(count(*) as decimal(18, 4)) as usage_quantity, max(created_at) as last_at
from accepted_cases group by org_id, billing_month;

-- Workitems: own faults, then unknown_case; they carry their case's org (the case id's last-landed row).
create or replace temp table workitems_rejected as
with s as (
    select clean_id(workitem_id) as workitem_id, clean_id(case_id) as case_id, clean_id(queue_id) as queue_id,
           cast(created_at as timestamp) as created_at, cast(completed_at as timestamp) as completed_at,
           cast(_loaded_at as timestamp) as _loaded_at
    from raw.case_workitems
),
r as (
    select *, row_number() over (
        partition by workitem_id
        order by _loaded_at desc nulls last, case_id asc nulls last, queue_id asc nulls last,
                 created_at asc nulls last, completed_at asc nulls last) as rn
    from s
),
v as (
    select workitem_id, case_id, _loaded_at,
        case
            when workitem_id is null then 'missing_id'
            when rn > 1 then 'duplicate'
            when created_at is null then 'missing_timestamp'
            when completed_at < created_at then 'invalid_interval'
        end as reason
    from r
),
rejected as (
    select workitem_id, case_id, _loaded_at, reason from v where reason is not null
    union all
    select workitem_id, case_id, _loaded_at, 'unknown_case' from v
    where reason is null and (case_id is null or case_id not in (select case_id from accepted_cases))
)
select rejected.workitem_id as record_id, winners.org_id, rejected._loaded_at, rejected.reason
from rejected
left join (select case_id, org_id from cases where case_id is not null and rn = 1) as winners
    on rejected.case_id = winners.case_id;

-- Wallboard accounts.
create or replace temp table accounts as
with s as (
    select clean_id(account_id) as account_id, clean_id(org_id) as org_id, cast(created_at as timestamp) as created_at,
           cast(deleted_at as timestamp) as deleted_at, cast(_loaded_at as timestamp) as _loaded_at
    from raw.wallboard_accounts
),
r as (
    select *, row_number() over (
        partition by account_id
        order by _loaded_at desc nulls last, org_id asc nulls last, created_at asc nulls last,
                 deleted_at asc nulls last) as rn
    from s
)
select account_id, org_id, created_at, deleted_at, _loaded_at,
    case
        when account_id is null then 'missing_id'
        when rn > 1 then 'duplicate'
        when org_id is null then 'missing_org'
        when created_at is null then 'missing_timestamp'
        when deleted_at < created_at then 'invalid_interval'
        when org_id not in (select org_id from orgs_subscribed) then 'no_subscription'
    end as reason
from r;

-- The horizon: the latest month among accepted rows (rule 11).
create or replace temp table horizon as
select month_of(max(at_)) as horizon_month
from (
    select max(effective_from) as at_ from accepted_subs
    union all select max(last_at) from token_usage
    union all select max(last_at) from case_usage
    union all select max(created_at) from accounts where reason is null
    union all select max(deleted_at) from accounts where reason is null
);

-- Org months from the first subscribed month to the horizon, with the subscription in force at the
-- month's last instant (rule 3): the accepted row with the latest effective_from before the next month.
create or replace temp table org_months as
with spine as (
    select o.org_id, cast(o.first_billing_month + to_months(n.n) as date) as billing_month
    from orgs_subscribed as o, horizon as h,
         range(0, 10000) as n (n)
    where n.n <= datediff('month', o.first_billing_month, h.horizon_month)
)
select spine.org_id, spine.billing_month, s.org_name, s.license_tier, s.license_type, s.billing_currency,
       s.effective_from as subscription_effective_from
from spine
asof join accepted_subs as s
    on spine.org_id = s.org_id and cast(spine.billing_month + interval 1 month as timestamp) > s.effective_from;

create or replace temp table wallboard_usage as
select m.org_id, m.billing_month, cast(count(distinct a.account_id) as decimal(18, 4)) as usage_quantity
from org_months as m
join accounts as a
    on m.org_id = a.org_id
    and a.created_at < next_month_of(m.billing_month)
    and (a.deleted_at is null or a.deleted_at > m.billing_month)
    and (a.deleted_at is null or a.deleted_at > a.created_at)
where a.reason is null
group by m.org_id, m.billing_month;

-- Contract rates: no natural key (never duplicates); currency checked against the first covered month.
create or replace temp table contracts as
with s as (
    select clean_id(org_id) as org_id, clean_code(feature) as feature, upper(clean_id(currency)) as currency,
           cast(unit_price as decimal(18, 4)) as unit_price,
           cast(committed_quantity as decimal(18, 4)) as committed_quantity,
           cast(valid_from as date) as valid_from, cast(valid_to as date) as valid_to,
           cast(_loaded_at as timestamp) as _loaded_at
    from raw.contract_rates
),
n as (
    select *, row_number() over () as contract_no,
           case when month_of(valid_from) = valid_from then month_of(valid_from)
                else next_month_of(valid_from) end as first_covered_month
    from s
),
-- The month the row must match: its first covered month, or the org's first billed month where the org was
-- not subscribed yet then; the subscription in force at that month's last instant decides (rule 3).
currency_of_first_month as (
    select n.contract_no, max_by(a.billing_currency, a.effective_from) as billing_currency
    from n
    join orgs_subscribed as o on n.org_id = o.org_id
    join accepted_subs as a
        on n.org_id = a.org_id
        and a.effective_from < next_month_of(greatest(n.first_covered_month, o.first_billing_month))
    where n.valid_from is not null
    group by n.contract_no
)
select n.*,
    case
        when n.org_id is null then 'missing_org'
        when n.valid_from is null then 'missing_timestamp'
        when n.unit_price is null or n.unit_price < 0 or n.committed_quantity is null or n.committed_quantity < 0
            then 'invalid_quantity'
        when n.valid_to <= n.valid_from then 'invalid_interval'
        when n.currency is null or n.currency not in (select currency from ref_currencies) then 'unknown_currency'
        when n.feature is null or n.feature not in (select feature from ref_features) then 'unknown_feature'
        when n.org_id not in (select org_id from orgs_subscribed) then 'no_subscription'
        when c.billing_currency <> n.currency then 'contract_currency_mismatch'
    end as reason
from n left join currency_of_first_month as c on n.contract_no = c.contract_no;

-- Rule 7: the applicable contract row per org, month and feature (later valid_from, then later _loaded_at).
create or replace temp table contracts_applied as
select m.org_id, m.billing_month, c.feature,
       arg_max(c.unit_price, row(c.valid_from, c._loaded_at is not null, c._loaded_at, -c.unit_price,
                                 c.committed_quantity, c.valid_to is null, c.valid_to)) as unit_price,
       arg_max(c.committed_quantity, row(c.valid_from, c._loaded_at is not null, c._loaded_at, -c.unit_price,
                                         c.committed_quantity, c.valid_to is null, c.valid_to)) as committed_quantity
from org_months as m
join contracts as c
    on m.org_id = c.org_id and m.billing_currency = c.currency
    and c.valid_from <= m.billing_month and (c.valid_to is null or m.billing_month < c.valid_to)
where c.reason is null
group by m.org_id, m.billing_month, c.feature;

-- Rules 4 to 8, one row per org, month and feature.
create or replace table floor.fct_monthly_overages as
with omf as (
    select m.*, f.feature, f.invoice_code
    from org_months as m
    join ref_features as f on f.valid_from <= m.billing_month and (f.valid_to is null or m.billing_month < f.valid_to)
),
usage_ as (
    select org_id, billing_month, 'ai_tokens' as feature, usage_quantity from token_usage
    union all select org_id, billing_month, 'case_management', usage_quantity from case_usage
    union all select org_id, billing_month, 'wallboard', usage_quantity from wallboard_usage
),
q as (
    select omf.*, coalesce(u.usage_quantity, 0) as usage_quantity, fa.free_quantity as free_allocation,
           cast(greatest(coalesce(u.usage_quantity, 0) - fa.free_quantity, 0) as decimal(18, 4)) as overage_quantity,
           ca.org_id is not null as has_contract, ca.unit_price as contract_price,
           ca.committed_quantity as contract_committed,
           lp.unit_price as list_price, usd.unit_price as usd_price, cur.minor_units
    from omf
    left join usage_ as u
        on omf.org_id = u.org_id and omf.billing_month = u.billing_month and omf.feature = u.feature
    left join ref_free_allocations as fa
        on omf.license_tier = fa.license_tier and omf.license_type = fa.license_type and omf.feature = fa.feature
        and fa.valid_from <= omf.billing_month and (fa.valid_to is null or omf.billing_month < fa.valid_to)
    left join contracts_applied as ca
        on omf.org_id = ca.org_id and omf.billing_month = ca.billing_month and omf.feature = ca.feature
    left join ref_list_prices as lp
        on omf.feature = lp.feature and omf.billing_currency = lp.currency
        and lp.valid_from <= omf.billing_month and (lp.valid_to is null or omf.billing_month < lp.valid_to)
    left join ref_list_prices as usd
        on omf.feature = usd.feature and usd.currency = 'USD'
        and usd.valid_from <= omf.billing_month and (usd.valid_to is null or omf.billing_month < usd.valid_to)
    left join ref_currencies as cur
        on omf.billing_currency = cur.currency
        and cur.valid_from <= omf.billing_month and (cur.valid_to is null or omf.billing_month < cur.valid_to)
),
b as (
    select *,
        cast(case when has_contract then contract_committed else 0 end as decimal(18, 4)) as committed_quantity,
        cast(case when has_contract then greatest(overage_quantity, contract_committed) else overage_quantity end
             as decimal(18, 4)) as billed_quantity,
        cast(case when has_contract then contract_price else list_price end as decimal(18, 4)) as unit_price,
        case when has_contract then 'contract' else 'list' end as price_source
    from q
)
select
    cast(org_id as varchar) as org_id,
    cast(billing_month as date) as billing_month,
    cast(feature as varchar) as feature,
    cast(license_tier as varchar) as license_tier,
    cast(license_type as varchar) as license_type,
    cast(billing_currency as varchar) as billing_currency,
    cast(usage_quantity as decimal(18, 4)) as usage_quantity,
    cast(free_allocation as decimal(18, 4)) as free_allocation,
    cast(overage_quantity as decimal(18, 4)) as overage_quantity,
    cast(committed_quantity as decimal(18, 4)) as committed_quantity,
    cast(billed_quantity as decimal(18, 4)) as billed_quantity,
    cast(unit_price as decimal(18, 4)) as unit_price,
    cast(price_source as varchar) as price_source,
    -- DuckDB rounds decimals halves away from zero; one branch per minor-unit count, each cast on its own.
    case minor_units
        when 0 then cast(round(cast(billed_quantity as decimal(28, 4)) * unit_price, 0) as decimal(18, 4))
        when 2 then cast(round(cast(billed_quantity as decimal(28, 4)) * unit_price, 2) as decimal(18, 4))
        when 3 then cast(round(cast(billed_quantity as decimal(28, 4)) * unit_price, 3) as decimal(18, 4))
    end as overage_amount,
    cast(round(cast(billed_quantity as decimal(28, 4)) * usd_price, 2) as decimal(18, 4)) as list_amount_usd,
    cast(invoice_code as varchar) as invoice_code
from b;

create or replace table floor.fct_invoice_lines as
select
    m.org_id, m.billing_month, m.feature, m.invoice_code,
    f.product_feature
        || case when m.price_source = 'contract' then ' committed overage tier, ' else ' overage, ' end
        || cast(m.billing_month as varchar) as description,
    m.billed_quantity as quantity, f.unit, m.unit_price, m.overage_amount as amount,
    m.billing_currency as currency, m.price_source
from floor.fct_monthly_overages as m
join ref_features as f
    on m.feature = f.feature
    and f.valid_from <= m.billing_month and (f.valid_to is null or m.billing_month < f.valid_to)
where m.billed_quantity > 0;

-- Rule 9: every raw row that cannot be used, with the first of its faults.
create or replace table floor.rejected_rows as
select 'org_subscriptions' as source_table, org_id || '|' || cast(effective_from as varchar) as record_id,
       org_id, reason, _loaded_at
from subs where reason is not null
union all
select 'wallboard_accounts', account_id, org_id, reason, _loaded_at from accounts where reason is not null
union all
select 'ai_token_events', e.event_id, e.org_id, coalesce(e.reason, 'no_subscription'), e._loaded_at
from events as e left join orgs_subscribed as o on e.org_id = o.org_id
where e.reason is not null or o.org_id is null or o.first_subscribed_at >= next_month_of(e.billing_month)
union all
select 'cases', c.case_id, c.org_id, coalesce(c.reason, 'no_subscription'), c._loaded_at
from cases as c left join orgs_subscribed as o on c.org_id = o.org_id
where c.reason is not null or o.org_id is null or o.first_subscribed_at >= next_month_of(c.billing_month)
union all
select 'case_workitems', record_id, org_id, reason, _loaded_at from workitems_rejected
union all
select 'contract_rates', org_id || '|' || feature || '|' || cast(valid_from as varchar), org_id, reason, _loaded_at
from contracts where reason is not null;
