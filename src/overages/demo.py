"""A realistic synthetic raw data set, landed to the raw contract, with a small share of every fault.

Deterministic for a given seed: the same arguments land the same rows, so a demo build's figures can be
compared from one run to the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from overages import demo_billing
from overages.raw_contract import ALL_RAW_TABLES, OPTIONAL_RAW_TABLES, create_raw_schema_sql, create_table_sql

DEFAULT_ORGS = 300
DEFAULT_MONTHS = 6
DEFAULT_SEED = 7


def default_end_month(today: date | None = None) -> str:
    """The demo's last month by default: the month before today (UTC), so that a fresh demo is current."""
    today = today or datetime.now(UTC).date()
    last = today.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"


# How landed text codes look in the wild: each canonical value, and spellings a loader sends.
TIER_SPELLINGS = {
    "CX1": ["CX1", "cx 1", "Genesys Cloud CX1", "CX 1"],
    "CX2": ["CX2", "Genesys Cloud CX2", "cx2"],
    "CX2_DIGITAL": ["CX2_DIGITAL", "Genesys Cloud CX2 Digital", "cx2-digital", "CX 2 Digital"],
    "CX3": ["CX3", " CX3 ", "Genesys Cloud CX3"],
    "CX3_DIGITAL": ["CX3 Digital", "cx3_digital"],
    "CX4": ["CX4", "Genesys Cloud CX 4"],
    "EX": ["EX", "Genesys Cloud EX", "ex"],
}
TYPE_SPELLINGS = {"named": ["named", "Named", " NAMED"], "concurrent": ["concurrent", "Concurrent ", "CONCURRENT"]}
CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "NZD", "BRL", "JPY", "ZAR"]
CURRENCY_WEIGHTS = [0.40, 0.16, 0.12, 0.07, 0.07, 0.04, 0.05, 0.05, 0.04]
AI_FEATURES = ["copilot", "summarisation", "translation", "sentiment", "virtual agent"]
FEATURE_SPELLINGS = {"wallboard": "Wallboard", "ai_tokens": "AI tokens", "case_management": "Case Management"}

# Share of rows given each fault, per table.
FAULT_SHARE = 0.004


@dataclass
class DemoData:
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def row_counts(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self.tables.items()}


def _month_starts(end_month: str, months: int) -> list[pd.Timestamp]:
    end = pd.Timestamp(f"{end_month}-01")
    return [end - pd.DateOffset(months=months - 1 - i) for i in range(months)]


def _random_instants(rng: np.random.Generator, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A uniformly random instant (whole seconds) in each [start, end)."""
    span = (ends - starts).astype("timedelta64[s]").astype(np.int64)
    offsets = (rng.random(len(starts)) * span).astype(np.int64)
    return (starts + offsets.astype("timedelta64[s]")).astype("datetime64[us]")


def _load_delay(rng: np.random.Generator, n: int, *, hours: float = 6.0) -> np.ndarray:
    return (rng.exponential(hours * 3600, n).astype(np.int64) + 60).astype("timedelta64[s]")


def _nth(values: np.ndarray, index: int) -> str:
    """The index-th value, wrapping round: the edge-case rows work for a demo of any size."""
    return str(values[index % len(values)])


def _pick_faulty(rng: np.random.Generator, n: int, share: float = FAULT_SHARE) -> np.ndarray:
    return rng.random(n) < share


def generate(
    orgs: int = DEFAULT_ORGS,
    months: int = DEFAULT_MONTHS,
    seed: int = DEFAULT_SEED,
    end_month: str | None = None,
    landed_by: datetime | None = None,
) -> DemoData:
    """Generate the demo's raw tables in memory, ending with `end_month` (default: the month before today).

    With `landed_by`, each table's rows look landed by then: its _loaded_at values move together so that the
    latest is `landed_by` (order kept, so duplicates resolve as they would), and none is later than it.
    """
    end_month = end_month or default_end_month()
    rng = np.random.default_rng(seed)
    month_starts = _month_starts(end_month, months)
    first_month = month_starts[0]
    horizon_end = month_starts[-1] + pd.DateOffset(months=1)
    data = DemoData()

    # Organisations and their effective-dated subscriptions.
    org_ids = np.array([f"org-{i:05d}" for i in range(1, orgs + 1)])
    tiers = rng.choice(list(TIER_SPELLINGS), size=orgs, p=[0.12, 0.22, 0.10, 0.28, 0.08, 0.12, 0.08])
    types = rng.choice(["named", "concurrent"], size=orgs, p=[0.65, 0.35])
    currencies = rng.choice(CURRENCIES, size=orgs, p=CURRENCY_WEIGHTS)
    # Most orgs are there from the first month; some join later.
    start_index = np.where(rng.random(orgs) < 0.8, 0, rng.integers(0, max(months, 1), orgs))
    start_month = np.array([month_starts[i] for i in start_index], dtype="datetime64[us]")
    start_at = _random_instants(rng, start_month - np.timedelta64(20, "D"), start_month + np.timedelta64(20, "D"))
    names = [
        f"{a} {b}"
        for a, b in zip(
            rng.choice(
                [
                    "Acme",
                    "Blue Fern",
                    "Northwind",
                    "Kestrel",
                    "Harbour",
                    "Orchid",
                    "Summit",
                    "Tidewater",
                    "Copperleaf",
                    "Granite",
                ],
                orgs,
            ),
            rng.choice(["Care", "Telecom", "Insurance", "Retail", "Health", "Logistics", "Energy", "Bank"], orgs),
            strict=True,
        )
    ]

    subs = []
    for i in range(orgs):
        spelled_tier = rng.choice(TIER_SPELLINGS[tiers[i]])
        spelled_type = rng.choice(TYPE_SPELLINGS[types[i]])
        currency = currencies[i] if rng.random() < 0.85 else f" {currencies[i].lower()} "
        subs.append((org_ids[i], names[i], spelled_tier, spelled_type, currency, start_at[i]))
        if rng.random() < 0.2 and months > 1:
            # A mid-month change of licence type (and sometimes tier) later on.
            change_month = month_starts[int(rng.integers(1, months))]
            change_at = pd.Timestamp(change_month) + pd.Timedelta(seconds=int(rng.integers(86400, 25 * 86400)))
            if change_at.to_datetime64() > start_at[i]:
                new_type = "concurrent" if types[i] == "named" else "named"
                new_tier = tiers[i] if rng.random() < 0.6 else rng.choice(list(TIER_SPELLINGS))
                subs.append(
                    (
                        org_ids[i],
                        names[i],
                        rng.choice(TIER_SPELLINGS[new_tier]),
                        rng.choice(TYPE_SPELLINGS[new_type]),
                        currencies[i],
                        change_at.to_datetime64(),
                    )
                )
    subscriptions = pd.DataFrame(
        subs, columns=["org_id", "org_name", "license_tier", "license_type", "billing_currency", "effective_from"]
    )
    subscriptions["effective_from"] = subscriptions["effective_from"].astype("datetime64[us]")
    subscriptions["_loaded_at"] = subscriptions["effective_from"] + _load_delay(rng, len(subscriptions), hours=1)
    # Faulty subscription rows: each reason a loader can cause, on orgs of their own.
    bad = [
        ("org-bad-tier", "Bad Tier Ltd", "CX9", "named", "USD"),
        ("org-bad-type", "Bad Type Ltd", "CX2", "floating", "USD"),
        ("org-bad-currency", "Bad Currency Ltd", "CX3", "named", "XYZ"),
        (None, "Nameless Ltd", "CX1", "named", "USD"),
        ("", "Empty Id Ltd", "CX1", "named", "EUR"),
    ]
    bad_rows = pd.DataFrame(
        [(o, n, t, ty, c, pd.Timestamp(first_month).to_datetime64()) for o, n, t, ty, c in bad],
        columns=subscriptions.columns[:6],
    )
    bad_rows["effective_from"] = bad_rows["effective_from"].astype("datetime64[us]")
    bad_rows["_loaded_at"] = bad_rows["effective_from"] + np.timedelta64(3600, "s")
    missing_ts = subscriptions.iloc[:1].copy()
    missing_ts["org_id"] = "org-no-start"
    missing_ts["effective_from"] = pd.NaT
    # A re-sent correction: same org and effective_from, landed later, with the licence type fixed.
    resent = subscriptions.iloc[1:3].copy()
    resent["_loaded_at"] = resent["_loaded_at"] + np.timedelta64(2, "D")
    subscriptions = pd.concat([subscriptions, bad_rows, missing_ts, resent], ignore_index=True)
    data.tables["org_subscriptions"] = subscriptions

    # Per-org appetite: a few heavy users, many light ones, so usage straddles the allocations.
    token_rate = rng.lognormal(mean=np.log(120), sigma=0.6, size=orgs)
    case_rate = rng.lognormal(mean=np.log(120), sigma=0.45, size=orgs)

    org_first_month_index = start_index
    events_parts, cases_parts = [], []
    for m, month in enumerate(month_starts):
        active = org_first_month_index <= m
        month_start = np.datetime64(month.to_datetime64(), "us")
        month_end = np.datetime64((month + pd.DateOffset(months=1)).to_datetime64(), "us")
        n_events = rng.poisson(token_rate * active)
        n_cases = rng.poisson(case_rate * active)
        ev_org = np.repeat(org_ids, n_events)
        cs_org = np.repeat(org_ids, n_cases)
        events_parts.append(
            (ev_org, _random_instants(rng, np.full(len(ev_org), month_start), np.full(len(ev_org), month_end)))
        )
        cases_parts.append(
            (cs_org, _random_instants(rng, np.full(len(cs_org), month_start), np.full(len(cs_org), month_end)))
        )

    ev_org = np.concatenate([p[0] for p in events_parts])
    ev_at = np.concatenate([p[1] for p in events_parts])
    n = len(ev_org)
    tokens = np.round(rng.gamma(shape=1.5, scale=1.6, size=n), 2)
    events = pd.DataFrame(
        {
            "event_id": [f"ev-{i:08d}" for i in range(n)],
            "org_id": ev_org,
            "occurred_at": ev_at,
            "tokens": tokens,
            "ai_feature": rng.choice(AI_FEATURES, n),
        }
    )
    events["_loaded_at"] = events["occurred_at"] + _load_delay(rng, n)
    events = _with_event_faults(rng, events, first_month)
    data.tables["ai_token_events"] = events

    cs_org = np.concatenate([p[0] for p in cases_parts])
    cs_at = np.concatenate([p[1] for p in cases_parts])
    n = len(cs_org)
    cases = pd.DataFrame({"case_id": [f"case-{i:08d}" for i in range(n)], "org_id": cs_org, "created_at": cs_at})
    cases["_loaded_at"] = cases["created_at"] + _load_delay(rng, n)
    cases = _with_case_faults(rng, cases, first_month)
    data.tables["cases"] = cases
    data.tables["case_workitems"] = _workitems(rng, cases, horizon_end)

    data.tables["wallboard_accounts"] = _wallboard_accounts(rng, org_ids, start_at, month_starts, horizon_end)
    data.tables["contract_rates"] = _contract_rates(rng, org_ids, currencies, start_index, month_starts)

    # What Genesys would bill for it (no random numbers drawn: the tables above stay as they were).
    data.tables.update(demo_billing.generate(data.tables, month_starts))

    for name, frame in data.tables.items():
        data.tables[name] = frame.reindex(columns=[c.name for c in ALL_RAW_TABLES[name]])
    if landed_by is not None:
        _land_by(data, pd.Timestamp(landed_by))
    return data


def _with_event_faults(rng: np.random.Generator, events: pd.DataFrame, first_month: pd.Timestamp) -> pd.DataFrame:
    n = len(events)
    events = events.copy()
    events["tokens"] = events["tokens"].astype(object)
    idx = np.flatnonzero(_pick_faulty(rng, n, FAULT_SHARE * 5))
    # Spread the faulty rows over the reasons, round-robin.
    kinds = ["missing_id", "missing_org", "missing_timestamp", "negative_tokens", "null_tokens", "no_org"]
    for k, i in enumerate(idx):
        kind = kinds[k % len(kinds)]
        if kind == "missing_id":
            events.iat[i, 0] = None if k % 2 else "  "
        elif kind == "missing_org":
            events.iat[i, 1] = None
        elif kind == "missing_timestamp":
            events.iat[i, 2] = pd.NaT
        elif kind == "negative_tokens":
            events.iat[i, 3] = -float(events.iat[i, 3] or 1)
        elif kind == "null_tokens":
            events.iat[i, 3] = None
        else:
            events.iat[i, 1] = "org-unsubscribed"
    # Re-sent corrections: a later copy of some events, with the token count corrected.
    resent = events.sample(n=max(1, int(n * FAULT_SHARE)), random_state=int(rng.integers(2**31)))
    resent = resent.copy()
    resent["_loaded_at"] = resent["_loaded_at"] + pd.Timedelta(days=1)
    resent["tokens"] = [t if t is None or t < 0 else round(float(t) * 1.5, 2) for t in resent["tokens"]]
    events = pd.concat([events, resent], ignore_index=True)
    # An event before its org's subscription started (no subscription in force that month).
    early = events.iloc[:1].copy()
    early["event_id"] = "ev-before-subscription"
    early["org_id"] = "org-00001"
    early["occurred_at"] = pd.Timestamp(first_month) - pd.DateOffset(months=3)
    events = pd.concat([events, early], ignore_index=True)
    events["tokens"] = pd.to_numeric(events["tokens"])
    return events


def _with_case_faults(rng: np.random.Generator, cases: pd.DataFrame, first_month: pd.Timestamp) -> pd.DataFrame:
    n = len(cases)
    cases = cases.copy()
    idx = np.flatnonzero(_pick_faulty(rng, n, FAULT_SHARE * 4))
    kinds = ["missing_id", "missing_org", "missing_timestamp", "no_org"]
    for k, i in enumerate(idx):
        kind = kinds[k % len(kinds)]
        if kind == "missing_id":
            cases.iat[i, 0] = None
        elif kind == "missing_org":
            cases.iat[i, 1] = "" if k % 2 else None
        elif kind == "missing_timestamp":
            cases.iat[i, 2] = pd.NaT
        else:
            cases.iat[i, 1] = "org-unsubscribed"
    resent = cases.sample(n=max(1, int(n * FAULT_SHARE)), random_state=int(rng.integers(2**31))).copy()
    resent["_loaded_at"] = resent["_loaded_at"] + pd.Timedelta(hours=12)
    return pd.concat([cases, resent], ignore_index=True)


def _workitems(rng: np.random.Generator, cases: pd.DataFrame, horizon_end: pd.Timestamp) -> pd.DataFrame:
    known = cases.dropna(subset=["case_id", "created_at"]).drop_duplicates("case_id")
    per_case = rng.integers(1, 4, len(known))
    case_ids = np.repeat(known["case_id"].to_numpy(), per_case)
    created = np.repeat(known["created_at"].to_numpy(dtype="datetime64[us]"), per_case)
    n = len(case_ids)
    created = created + (rng.exponential(4 * 3600, n).astype(np.int64)).astype("timedelta64[s]")
    completed = created + (rng.exponential(36 * 3600, n).astype(np.int64) + 300).astype("timedelta64[s]")
    still_open = completed >= np.datetime64(horizon_end.to_datetime64(), "us")
    items = pd.DataFrame(
        {
            "workitem_id": [f"wi-{i:09d}" for i in range(n)],
            "case_id": case_ids,
            "queue_id": rng.choice([f"queue-{q:02d}" for q in range(1, 13)], n),
            "created_at": created,
            "completed_at": pd.Series(completed).where(~still_open, pd.NaT),
        }
    )
    items["_loaded_at"] = items["created_at"] + _load_delay(rng, n)
    idx = np.flatnonzero(_pick_faulty(rng, n, FAULT_SHARE * 4))
    kinds = ["missing_id", "missing_timestamp", "invalid_interval", "unknown_case"]
    for k, i in enumerate(idx):
        kind = kinds[k % len(kinds)]
        if kind == "missing_id":
            items.iat[i, 0] = None
        elif kind == "missing_timestamp":
            items.iat[i, 3] = pd.NaT
        elif kind == "invalid_interval":
            items.iat[i, 4] = items.iat[i, 3] - pd.Timedelta(hours=1)
        else:
            items.iat[i, 1] = f"case-missing-{k}"
    resent = items.sample(n=max(1, int(n * FAULT_SHARE)), random_state=int(rng.integers(2**31))).copy()
    resent["_loaded_at"] = resent["_loaded_at"] + pd.Timedelta(hours=2)
    return pd.concat([items, resent], ignore_index=True)


def _wallboard_accounts(
    rng: np.random.Generator,
    org_ids: np.ndarray,
    start_at: np.ndarray,
    month_starts: list[pd.Timestamp],
    horizon_end: pd.Timestamp,
) -> pd.DataFrame:
    rows = []
    horizon = horizon_end.to_datetime64()
    for i, org in enumerate(org_ids):
        for _ in range(int(rng.choice([0, 1, 1, 1, 2, 2, 3, 5]))):
            created = start_at[i] + np.timedelta64(int(rng.integers(0, 120 * 86400)), "s")
            if created >= horizon:
                continue
            deleted = None
            if rng.random() < 0.3:
                deleted = created + np.timedelta64(int(rng.integers(3600, 90 * 86400)), "s")
                if deleted >= horizon:
                    deleted = None
            rows.append([f"wb-{len(rows):06d}", org, created, deleted])
    # Edges: deleted at the instant of creation (never active), deleted before creation (invalid).
    first = month_starts[0].to_datetime64()
    rows.append(["wb-instant", _nth(org_ids, 0), first + np.timedelta64(5, "D"), first + np.timedelta64(5, "D")])
    rows.append(["wb-backwards", _nth(org_ids, 1), first + np.timedelta64(5, "D"), first + np.timedelta64(4, "D")])
    rows.append(["wb-orphan", "org-unsubscribed", first + np.timedelta64(5, "D"), None])
    rows.append([None, _nth(org_ids, 2), first + np.timedelta64(6, "D"), None])
    rows.append(["wb-no-org", None, first + np.timedelta64(6, "D"), None])
    rows.append(["wb-no-created", _nth(org_ids, 3), None, None])
    accounts = pd.DataFrame(rows, columns=["account_id", "org_id", "created_at", "deleted_at"])
    accounts["created_at"] = pd.to_datetime(accounts["created_at"]).astype("datetime64[us]")
    accounts["deleted_at"] = pd.to_datetime(accounts["deleted_at"]).astype("datetime64[us]")
    accounts["_loaded_at"] = accounts["created_at"].fillna(pd.Timestamp(first)) + pd.Timedelta(hours=1)
    resent = accounts.iloc[:2].copy()
    resent["_loaded_at"] = resent["_loaded_at"] + pd.Timedelta(days=3)
    return pd.concat([accounts, resent], ignore_index=True)


def _contract_rates(
    rng: np.random.Generator,
    org_ids: np.ndarray,
    currencies: np.ndarray,
    start_index: np.ndarray,
    month_starts: list[pd.Timestamp],
) -> pd.DataFrame:
    list_factor = {"wallboard": 18.0, "ai_tokens": 1.0, "case_management": 0.4}
    to_usd = {"USD": 1, "CAD": 1.1, "AUD": 1.3, "NZD": 1.4, "GBP": 0.7, "EUR": 0.8, "BRL": 4.0, "JPY": 120, "ZAR": 14.2}
    committed = {"wallboard": 2, "ai_tokens": 200, "case_management": 100}
    rows = []
    for i in np.flatnonzero(rng.random(len(org_ids)) < 0.1):
        feature = str(rng.choice(list(list_factor)))
        first = month_starts[int(start_index[i])]
        price = round(list_factor[feature] * to_usd[currencies[i]] * float(rng.choice([0.6, 0.75, 0.9])), 4)
        valid_to = None
        if rng.random() < 0.3 and len(month_starts) > int(start_index[i]) + 2:
            valid_to = month_starts[int(start_index[i]) + 2]
        rows.append([org_ids[i], FEATURE_SPELLINGS[feature], currencies[i], price, committed[feature], first, valid_to])
    first = month_starts[0]
    rows += [
        [_nth(org_ids, 0), "sms", "USD", 0.01, 10, first, None],
        [_nth(org_ids, 0), "ai_tokens", "XYZ", 0.5, 10, first, None],
        [_nth(org_ids, 1), "case_management", _nth(currencies, 1), -0.1, 10, first, None],
        [_nth(org_ids, 1), "case_management", _nth(currencies, 1), 0.1, 10, first, first],
        [
            _nth(org_ids, 2),
            "wallboard",
            "JPY" if _nth(currencies, 2) != "JPY" else "USD",
            1000,
            3,
            first,
            None,
        ],
        ["org-unsubscribed", "wallboard", "USD", 10, 3, first, None],
        [None, "wallboard", "USD", 10, 3, first, None],
    ]
    contracts = pd.DataFrame(
        rows, columns=["org_id", "feature", "currency", "unit_price", "committed_quantity", "valid_from", "valid_to"]
    )
    contracts["valid_from"] = pd.to_datetime(contracts["valid_from"]).dt.date
    contracts["valid_to"] = pd.to_datetime(contracts["valid_to"]).dt.date
    contracts["_loaded_at"] = pd.to_datetime(contracts["valid_from"]) - pd.Timedelta(days=3)
    return contracts


def _land_by(data: DemoData, landed_by: pd.Timestamp) -> None:
    """Move each table's _loaded_at forward so that its latest is `landed_by` (fresh for `overages status`);
    a table already landing later is capped at `landed_by` (nothing is landed in the future)."""
    for frame in data.tables.values():
        latest = frame["_loaded_at"].max()
        if pd.isna(latest):
            continue
        if latest < landed_by:
            frame["_loaded_at"] = frame["_loaded_at"] + (landed_by - latest)
        frame["_loaded_at"] = frame["_loaded_at"].clip(upper=landed_by)


def land(con: duckdb.DuckDBPyConnection, data: DemoData) -> dict[str, int]:
    """Replace the raw schema's tables (the optional Genesys billing tables included) with the demo data;
    returns rows landed per table."""
    for statement in create_raw_schema_sql(replace=True):
        con.execute(statement)
    for name in OPTIONAL_RAW_TABLES:
        con.execute(create_table_sql(name, replace=True))
    for name, frame in data.tables.items():
        con.register("demo_frame", frame)
        columns = ", ".join(c.name for c in ALL_RAW_TABLES[name])
        con.execute(f"insert into raw.{name} ({columns}) select {columns} from demo_frame")
        con.unregister("demo_frame")
    return data.row_counts()
