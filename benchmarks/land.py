"""Land a large synthetic raw data set fast, in DuckDB SQL only (range() and hash()-based randomness).

Deterministic for a seed: the same arguments land the same rows. The shape follows the demo
(src/overages/demo.py): per org and month about as many cases as AI token events, about two workitems per
case, a few wallboard accounts per org, committed tiers for about a tenth of the orgs, codes spelled in
every way the landing contract allows, and a small share of every fault the audit knows (re-sent
duplicates, missing ids, orgs and timestamps, negative and null tokens, unknown codes, orphans), so that
every rejection path runs.

    python benchmarks/land.py --warehouse benchmarks/out/bench.duckdb --events 10000000
    python benchmarks/land.py --warehouse benchmarks/out/bench.duckdb --one-more-day

`--one-more-day` appends the day after the latest landed event: events, cases and workitems in the same
proportion (about events/180), plus a few corrections re-sent for the day before, all landed after
everything landed so far.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb

from overages.raw_contract import RAW_TABLES, create_raw_schema_sql

DEFAULT_EVENTS = 10_000_000
DEFAULT_MONTHS = 6
DEFAULT_END_MONTH = "2026-10"
DEFAULT_SEED = 11
CASES_PER_EVENT = 0.92  # the demo's ratio of mean case rate to mean token rate (132.7 / 143.7)
DUPLICATE_SHARE = 0.005  # rows re-sent later as corrections
TIE_SHARE = 0.0002  # rows re-sent with the same _loaded_at (rule 2's deterministic tie-break)
FAULT_SHARE = 0.002  # rows with a row-level fault, spread over the kinds


def default_orgs(events: int) -> int:
    return max(50, min(20_000, events // 1000))


# Randomness: u(seed, row, k) is uniform on [0, 1), a pure function of its arguments.
MACROS = """
create or replace temp macro u(s, i, k) as
    (hash(xor(hash(s, i), hash(k * 7919 + 13))) >> 11)::double / 9007199254740992.0;
create or replace temp macro pick(lst, x) as lst[1 + least(floor(x * len(lst))::bigint, len(lst) - 1)];
create or replace temp macro expo(x, mean_seconds) as
    to_microseconds((-ln(1.0 - x) * mean_seconds * 1000000)::bigint);
create or replace temp macro secs(n) as to_microseconds((n::double * 1000000)::bigint);
"""

TIER_SPELLINGS = [
    "CX1", "cx 1", "Genesys Cloud CX1", "CX 1", "CX2", "Genesys Cloud CX2", "cx2", "CX2", "CX2_DIGITAL",
    "Genesys Cloud CX2 Digital", "cx2-digital", "CX 2 Digital", "CX3", " CX3 ", "Genesys Cloud CX3", "CX3",
    "CX3", "CX3 Digital", "cx3_digital", "CX4", "Genesys Cloud CX 4", "CX4", "EX", "Genesys Cloud EX", "ex",
]  # fmt: skip
TYPE_SPELLINGS = ["named", "Named", " NAMED", "named", "Named", "concurrent", "Concurrent ", "CONCURRENT"]
# The demo's currency weights (percent), as a list to pick from.
CURRENCIES = ["USD"] * 40 + ["EUR"] * 16 + ["GBP"] * 12 + ["CAD"] * 7 + ["AUD"] * 7 + ["NZD"] * 4 + ["BRL"] * 5 \
    + ["JPY"] * 5 + ["ZAR"] * 4  # fmt: skip
AI_FEATURES = ["copilot", "summarisation", "translation", "sentiment", "virtual agent"]
TO_USD = {"USD": 1, "CAD": 1.1, "AUD": 1.3, "NZD": 1.4, "GBP": 0.7, "EUR": 0.8, "BRL": 4.0, "JPY": 120, "ZAR": 14.2}


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _params(con: duckdb.DuckDBPyConnection, seed: int, orgs: int, months: int, end_month: str) -> None:
    con.execute(MACROS)
    con.execute(
        f"""
        create or replace temp table params as
        select
            {seed}::bigint as seed,
            {orgs}::bigint as orgs,
            {months}::bigint as months,
            (date '{end_month}-01' - to_months({months - 1}))::timestamp as first_month,
            (date '{end_month}-01' + to_months(1))::timestamp as horizon_end,
            interval 0 second as load_shift
        """
    )


def _orgs(con: duckdb.DuckDBPyConnection) -> None:
    """One row per org: tier, type, currency, start, appetite for tokens and cases."""
    to_usd = "map {" + ", ".join(f"'{c}': {r}" for c, r in TO_USD.items()) + "}"
    con.execute(
        f"""
        create or replace temp table bench_orgs as
        with o as (
            select
                i,
                'org-' || lpad(i::varchar, 6, '0') as org_id,
                pick({_sql_list(TIER_SPELLINGS)}, u(seed, i, 1)) as tier,
                pick({_sql_list(TYPE_SPELLINGS)}, u(seed, i, 2)) as ltype,
                pick({_sql_list(CURRENCIES)}, u(seed, i, 3)) as currency,
                -- most orgs are there from the first month; some join later
                case when u(seed, i, 4) < 0.8 then 0 else floor(u(seed, i, 5) * months)::bigint end as start_index,
                -- lognormal appetites (Box-Muller), as in the demo: sigma 0.6 for tokens, 0.45 for cases
                exp(0.6 * sqrt(-2 * ln(1 - u(seed, i, 6))) * cos(2 * pi() * u(seed, i, 7))) as token_weight,
                exp(0.45 * sqrt(-2 * ln(1 - u(seed, i, 8))) * cos(2 * pi() * u(seed, i, 9))) as case_weight,
                u(seed, i, 10) as x_start,
                u(seed, i, 11) as x_change,
                u(seed, i, 12) as x_contract,
                first_month, months, horizon_end, seed
            from params, range(1, (select orgs from params) + 1) as r(i)
        )
        select
            *,
            first_month + to_months(start_index) as start_month,
            first_month + to_months(start_index) - interval 20 day
                + secs(floor(x_start * 40 * 86400)) as start_at,
            ({to_usd})[upper(trim(currency))] as to_usd
        from o
        """
    )


def _cells(con: duckdb.DuckDBPyConnection, name: str, weight: str, total: int) -> None:
    """Org-months with exactly `total` rows shared out in proportion to `weight` (cumulative offsets)."""
    con.execute(
        f"""
        create or replace temp table {name} as
        with cells as (
            select o.i as org_i, o.org_id, m.m, o.first_month + to_months(m.m) as month_start,
                   o.{weight} as w
            from bench_orgs as o, range(0, (select months from params)) as m(m)
            where m.m >= o.start_index
        ),
        cum as (
            select *, sum(w) over (order by org_i, m rows unbounded preceding) as cw, sum(w) over () as tw
            from cells
        )
        select org_i, org_id, m, month_start, month_start + to_months(1) as month_end,
               floor((cw - w) / tw * {total})::bigint as first_row,
               floor(cw / tw * {total})::bigint - floor((cw - w) / tw * {total})::bigint as n
        from cum
        """
    )


def _insert(con: duckdb.DuckDBPyConnection, table: str, select_sql: str) -> None:
    columns = ", ".join(c.name for c in RAW_TABLES[table])
    con.execute(f"insert into raw.{table} ({columns}) {select_sql}")


EVENTS_VIEW = """
create or replace temp view gen_events as
with rows_ as (
    select c.org_id, c.month_start, c.month_end, c.first_row + unnest(range(c.n)) as k
    from {cells} as c
),
clean as (
    select
        k,
        {id_prefix} || k::varchar as event_id,
        org_id,
        month_start + secs(floor(u(seed, k, 21) * epoch(month_end - month_start))) as occurred_at,
        -- a gamma-ish spread around 2.4 tokens, two decimals
        round(-ln(1 - u(seed, k, 22)) * 1.6 - ln(1 - u(seed, k, 23)) * 0.8, 2)::decimal(18, 6) as tokens,
        pick({features}, u(seed, k, 24)) as ai_feature,
        u(seed, k, 25) as x_fault,
        u(seed, k, 26) as x_dup,
        u(seed, k, 27) as x_delay,
        load_shift
    from rows_, params
)
select
    k,
    case when x_fault < {f6} then (case when k % 2 = 0 then null else '  ' end) else event_id end as event_id,
    case
        when x_fault >= {f6} and x_fault < 2 * {f6} then null
        when x_fault >= 5 * {f6} and x_fault < 6 * {f6} then 'org-unsubscribed'
        else org_id
    end as org_id,
    case when x_fault >= 2 * {f6} and x_fault < 3 * {f6} then null else occurred_at end as occurred_at,
    case
        when x_fault >= 3 * {f6} and x_fault < 4 * {f6} then -tokens
        when x_fault >= 4 * {f6} and x_fault < 5 * {f6} then null
        else tokens
    end as tokens,
    ai_feature,
    occurred_at + load_shift + secs(60) + expo(x_delay, 6 * 3600) as _loaded_at,
    x_dup
from clean
"""

CASES_VIEW = """
create or replace temp view gen_cases as
with rows_ as (
    select c.org_id, c.month_start, c.month_end, c.first_row + unnest(range(c.n)) as k
    from {cells} as c
),
clean as (
    select
        k,
        {id_prefix} || k::varchar as case_id,
        org_id,
        month_start + secs(floor(u(seed, k, 31) * epoch(month_end - month_start))) as created_at,
        u(seed, k, 32) as x_fault,
        u(seed, k, 33) as x_dup,
        u(seed, k, 34) as x_delay,
        u(seed, k, 35) as x_items,
        horizon_end,
        load_shift
    from rows_, params
)
select
    k,
    case_id as clean_case_id,
    created_at as clean_created_at,
    case when x_fault < {f4} then null else case_id end as case_id,
    case
        when x_fault >= {f4} and x_fault < 2 * {f4} then (case when k % 2 = 0 then '' else null end)
        when x_fault >= 3 * {f4} and x_fault < 4 * {f4} then 'org-unsubscribed'
        else org_id
    end as org_id,
    case when x_fault >= 2 * {f4} and x_fault < 3 * {f4} then null else created_at end as created_at,
    created_at + load_shift + secs(60) + expo(x_delay, 6 * 3600) as _loaded_at,
    x_dup,
    x_items,
    horizon_end
from clean
"""

WORKITEMS_VIEW = """
create or replace temp view gen_workitems as
with rows_ as (
    select clean_case_id, clean_created_at,
           k * 3 + unnest(range(1 + floor(x_items * 3)::bigint)) as w
    from gen_cases
),
clean as (
    select
        w,
        {id_prefix} || w::varchar as workitem_id,
        clean_case_id as case_id,
        'queue-' || lpad((1 + hash(seed, w, 41) % 12)::varchar, 2, '0') as queue_id,
        clean_created_at + expo(u(seed, w, 42), 4 * 3600) as created_at,
        horizon_end,
        load_shift,
        u(seed, w, 43) as x_completed,
        u(seed, w, 44) as x_fault,
        u(seed, w, 45) as x_dup,
        u(seed, w, 46) as x_delay
    from rows_, params
),
timed as (
    select *, created_at + secs(300) + expo(x_completed, 36 * 3600) as completed_raw from clean
)
select
    w,
    case when x_fault < {f4} then null else workitem_id end as workitem_id,
    case when x_fault >= 3 * {f4} and x_fault < 4 * {f4} then 'case-missing-' || w::varchar else case_id end
        as case_id,
    queue_id,
    case when x_fault >= {f4} and x_fault < 2 * {f4} then null else created_at end as created_at,
    case
        when x_fault >= 2 * {f4} and x_fault < 3 * {f4} then created_at - interval 1 hour
        when completed_raw >= horizon_end then null
        else completed_raw
    end as completed_at,
    created_at + load_shift + secs(60) + expo(x_delay, 6 * 3600) as _loaded_at,
    x_dup
from timed
"""


def _land_usage(con: duckdb.DuckDBPyConnection, cells_events: str, cells_cases: str, prefix: str) -> None:
    """Events, cases and workitems of the given cells, with faults and re-sent duplicates."""
    f6 = FAULT_SHARE / 6
    f4 = FAULT_SHARE / 4
    con.execute(EVENTS_VIEW.format(cells=cells_events, id_prefix=f"'ev-{prefix}'",
                                   features=_sql_list(AI_FEATURES), f6=f6))  # fmt: skip
    _insert(con, "ai_token_events", "select event_id, org_id, occurred_at, tokens, ai_feature, _loaded_at "
                                    "from gen_events")  # fmt: skip
    # Corrections re-sent a day later with the token count changed; a few re-sent at the same instant.
    _insert(
        con,
        "ai_token_events",
        f"""
        select event_id, org_id, occurred_at,
               case when tokens > 0 then round(tokens * 1.5, 2) else tokens end,
               ai_feature,
               case when x_dup < {TIE_SHARE} then _loaded_at else _loaded_at + interval 1 day end
        from gen_events where x_dup < {DUPLICATE_SHARE}
        """,
    )
    con.execute(CASES_VIEW.format(cells=cells_cases, id_prefix=f"'case-{prefix}'", f4=f4))
    _insert(con, "cases", "select case_id, org_id, created_at, _loaded_at from gen_cases")
    _insert(
        con,
        "cases",
        f"""
        select case_id, org_id, created_at,
               case when x_dup < {TIE_SHARE} then _loaded_at else _loaded_at + interval 12 hour end
        from gen_cases where x_dup < {DUPLICATE_SHARE}
        """,
    )
    con.execute(WORKITEMS_VIEW.format(id_prefix=f"'wi-{prefix}'", f4=f4))
    _insert(con, "case_workitems", "select workitem_id, case_id, queue_id, created_at, completed_at, _loaded_at "
                                   "from gen_workitems")  # fmt: skip
    _insert(
        con,
        "case_workitems",
        f"""
        select workitem_id, case_id, queue_id, created_at, completed_at, _loaded_at + interval 2 hour
        from gen_workitems where x_dup < {DUPLICATE_SHARE}
        """,
    )


def _land_reference_like(con: duckdb.DuckDBPyConnection) -> None:
    """Subscriptions, wallboard accounts and contract rates (small tables), with their faults."""
    _insert(
        con,
        "org_subscriptions",
        """
        select org_id, 'Org ' || i::varchar, tier, ltype,
               case when u(seed, i, 13) < 0.85 then currency else ' ' || lower(currency) || ' ' end,
               start_at, start_at + secs(60) + expo(u(seed, i, 14), 3600)
        from bench_orgs
        """,
    )
    # A mid-month change of licence type (sometimes tier) for a fifth of the orgs, in a later month.
    _insert(
        con,
        "org_subscriptions",
        f"""
        with c as (
            select *, first_month + to_months(1 + floor(u(seed, i, 15) * (months - 1))::bigint)
                      + secs(86400 + floor(u(seed, i, 16) * 24 * 86400)) as change_at
            from bench_orgs
            where x_change < 0.2 and months > 1
        )
        select org_id, 'Org ' || i::varchar,
               case when u(seed, i, 17) < 0.6 then tier else pick({_sql_list(TIER_SPELLINGS)}, u(seed, i, 18)) end,
               case when lower(trim(ltype)) = 'named' then 'Concurrent' else 'named' end,
               currency, change_at, change_at + secs(60) + expo(u(seed, i, 19), 3600)
        from c where change_at > start_at
        """,
    )
    # Faulty rows, on orgs of their own; a re-sent correction of two orgs' rows.
    _insert(
        con,
        "org_subscriptions",
        """
        select * from (values
            ('org-bad-tier', 'Bad Tier Ltd', 'CX9', 'named', 'USD'),
            ('org-bad-type', 'Bad Type Ltd', 'CX2', 'floating', 'USD'),
            ('org-bad-currency', 'Bad Currency Ltd', 'CX3', 'named', 'XYZ'),
            (null, 'Nameless Ltd', 'CX1', 'named', 'USD'),
            ('', 'Empty Id Ltd', 'CX1', 'named', 'EUR')
        ) as b(org_id, org_name, tier, ltype, currency),
        (select first_month as effective_from, first_month + interval 1 hour as _loaded_at from params)
        union all
        select 'org-no-start', 'No Start Ltd', 'CX1', 'named', 'USD', null, first_month from params
        union all
        select org_id, 'Org ' || i::varchar, tier, ltype, currency, start_at, start_at + interval 2 day
        from bench_orgs where i in (2, 3)
        """,
    )
    # Wallboard accounts: 0 to 5 per org, created within 120 days of its start, 30% deleted later.
    _insert(
        con,
        "wallboard_accounts",
        """
        with a as (
            select o.*, unnest(range([0, 1, 1, 1, 2, 2, 3, 5][1 + floor(u(seed, i, 51) * 8)::bigint])) as j
            from bench_orgs as o
        ),
        t as (
            select *, i * 8 + j as a_i,
                   start_at + secs(floor(u(seed, i * 8 + j, 52) * 120 * 86400)) as created_at
            from a
        ),
        d as (
            select *,
                   case when u(seed, a_i, 53) < 0.3
                        then created_at + secs(3600 + floor(u(seed, a_i, 54) * 90 * 86400)) end as deleted_raw
            from t where created_at < horizon_end
        )
        select 'wb-' || lpad(a_i::varchar, 8, '0'), org_id, created_at,
               case when deleted_raw < horizon_end then deleted_raw end,
               created_at + interval 1 hour
        from d
        """,
    )
    _insert(
        con,
        "wallboard_accounts",
        """
        select account_id, org_id, created_at, deleted_at, coalesce(created_at, first_month) + interval 1 hour
        from (values
            ('wb-instant', 'org-000001', 5 * 86400, 5 * 86400),
            ('wb-backwards', 'org-000002', 5 * 86400, 4 * 86400),
            ('wb-orphan', 'org-unsubscribed', 5 * 86400, null),
            (null, 'org-000003', 6 * 86400, null),
            ('wb-no-org', null, 6 * 86400, null),
            ('wb-no-created', 'org-000004', null, null)
        ) as v(account_id, org_id, c, d), params
        cross join lateral (select first_month + secs(c) as created_at, first_month + secs(d) as deleted_at)
        """,
    )
    # Re-sent account rows (three days later) for the first few accounts.
    con.execute(
        """
        insert into raw.wallboard_accounts
        select account_id, org_id, created_at, deleted_at, _loaded_at + interval 3 day
        from raw.wallboard_accounts where account_id in (select min(account_id) from raw.wallboard_accounts
                                                         where account_id like 'wb-0%' group by org_id
                                                         order by 1 limit 3)
        """
    )
    # Committed tiers for a tenth of the orgs, from their first month; 30% end two months later.
    _insert(
        con,
        "contract_rates",
        """
        with c as (
            select *,
                   ['wallboard', 'ai_tokens', 'case_management'][1 + floor(u(seed, i, 61) * 3)::bigint] as feature
            from bench_orgs where x_contract < 0.1
        )
        select org_id,
               case feature when 'wallboard' then 'Wallboard' when 'ai_tokens' then 'AI tokens'
                            else 'Case Management' end,
               currency,
               round(case feature when 'wallboard' then 18.0 when 'ai_tokens' then 1.0 else 0.4 end
                     * to_usd * [0.6, 0.75, 0.9][1 + floor(u(seed, i, 62) * 3)::bigint], 4),
               case feature when 'wallboard' then 2 when 'ai_tokens' then 200 else 100 end,
               start_month::date,
               case when u(seed, i, 63) < 0.3 and start_index + 2 < months
                    then (start_month + to_months(2))::date end,
               start_month - interval 3 day
        from c
        """,
    )
    _insert(
        con,
        "contract_rates",
        """
        select v.*, first_month::date, v_to, first_month - interval 3 day
        from (values
            ('org-000001', 'sms', 'USD', 0.01, 10, false),
            ('org-000001', 'ai_tokens', 'XYZ', 0.5, 10, false),
            ('org-000002', 'case_management', 'USD', -0.1, 10, false),
            ('org-000002', 'case_management', 'USD', 0.1, 10, true),
            ('org-000003', 'wallboard', 'JPY', 1000, 3, false),
            ('org-unsubscribed', 'wallboard', 'USD', 10, 3, false),
            (null, 'wallboard', 'USD', 10, 3, false)
        ) as v(org_id, feature, currency, unit_price, committed_quantity, same_day), params
        cross join lateral (select case when same_day then first_month::date end as v_to)
        """.replace("v.*", "v.org_id, v.feature, v.currency, v.unit_price, v.committed_quantity"),
    )


def land(
    path: Path,
    events: int = DEFAULT_EVENTS,
    orgs: int | None = None,
    months: int = DEFAULT_MONTHS,
    end_month: str = DEFAULT_END_MONTH,
    seed: int = DEFAULT_SEED,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> dict[str, int]:
    """Replace the raw schema of `path` with a synthetic data set; returns rows landed per table."""
    orgs = orgs or default_orgs(events)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, memory_limit, threads)
    try:
        for statement in create_raw_schema_sql(replace=True):
            con.execute(statement)
        _params(con, seed, orgs, months, end_month)
        _orgs(con)
        _cells(con, "cells_events", "token_weight", events)
        _cells(con, "cells_cases", "case_weight", round(events * CASES_PER_EVENT))
        _land_reference_like(con)
        _land_usage(con, "cells_events", "cells_cases", "")
        con.execute("checkpoint")
        return _counts(con)
    finally:
        con.close()


def land_one_more_day(
    path: Path,
    seed: int = DEFAULT_SEED,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> dict[str, int]:
    """Append the day after the latest landed event, landed after everything before; returns rows added."""
    con = _connect(path, memory_limit, threads)
    try:
        before = _counts(con)
        con.execute(MACROS)
        total_events, day, watermark = con.execute(
            """
            select count(*), cast(max(occurred_at) as date) + 1,
                   (select max(m) from (
                       select max(_loaded_at) as m from raw.ai_token_events union all
                       select max(_loaded_at) from raw.cases union all
                       select max(_loaded_at) from raw.case_workitems union all
                       select max(_loaded_at) from raw.org_subscriptions union all
                       select max(_loaded_at) from raw.wallboard_accounts union all
                       select max(_loaded_at) from raw.contract_rates))
            from raw.ai_token_events
            """
        ).fetchone()
        day_events = max(1, total_events // 180)
        day_seed = seed * 1000 + day.toordinal() % 1000
        # Orgs as landed; the day's rows are shared out by each org's share of the events so far.
        con.execute(
            f"""
            create or replace temp table params as
            select {day_seed}::bigint as seed, timestamp '{day}' as day_start,
                   timestamp '{watermark}' as watermark,
                   timestamp '{day}' + interval 1 day as horizon_end,
                   timestamp '{watermark}' - timestamp '{day}' + interval 1 hour as load_shift
            """
        )
        for name, table, id_col, ts_col, total in (
            ("cells_events_day", "ai_token_events", "event_id", "occurred_at", day_events),
            ("cells_cases_day", "cases", "case_id", "created_at", round(day_events * CASES_PER_EVENT)),
        ):
            con.execute(
                f"""
                create or replace temp table {name} as
                with w as (
                    select org_id, count(*)::double as w from raw.{table}
                    where org_id like 'org-0%' group by org_id
                ),
                cum as (select *, sum(w) over (order by org_id rows unbounded preceding) as cw,
                               sum(w) over () as tw from w)
                select org_id, day_start as month_start, day_start + interval 1 day as month_end,
                       {10**12} + floor((cw - w) / tw * {total})::bigint as first_row,
                       floor(cw / tw * {total})::bigint - floor((cw - w) / tw * {total})::bigint as n
                from cum, params
                """
            )
        # Usage of the day, landed a few hours after the watermark (load_shift moves _loaded_at past it).
        _land_usage(con, "cells_events_day", "cells_cases_day", "d")
        # Corrections re-sent for the day before (0.5% of its events), landed after the watermark.
        con.execute(
            f"""
            insert into raw.ai_token_events
            select event_id, org_id, occurred_at,
                   case when tokens > 0 then round(tokens * 1.25, 2) else tokens end, ai_feature,
                   (select watermark from params) + interval 2 hour
            from raw.ai_token_events
            where occurred_at >= (select day_start from params) - interval 1 day
              and occurred_at < (select day_start from params)
              and u((select seed from params), hash(event_id), 71) < {DUPLICATE_SHARE}
            """
        )
        con.execute("checkpoint")
        after = _counts(con)
        return {t: after[t] - before[t] for t in after}
    finally:
        con.close()


def _connect(path: Path, memory_limit: str | None, threads: int | None) -> duckdb.DuckDBPyConnection:
    config = {"preserve_insertion_order": "false"}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = str(threads)
    return duckdb.connect(str(path), config=config)


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in RAW_TABLES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--orgs", type=int, default=None, help="default: events/1000, at least 50, at most 20,000")
    parser.add_argument("--months", type=int, default=DEFAULT_MONTHS)
    parser.add_argument("--end-month", default=DEFAULT_END_MONTH)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--one-more-day", action="store_true", help="append the next day instead of replacing")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.one_more_day:
        counts = land_one_more_day(args.warehouse, args.seed, args.memory_limit, args.threads)
    else:
        counts = land(args.warehouse, args.events, args.orgs, args.months, args.end_month, args.seed,
                      args.memory_limit, args.threads)  # fmt: skip
    print(json.dumps({"seconds": round(time.perf_counter() - started, 2), "rows": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
