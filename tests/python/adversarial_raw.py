"""Seeded, small, adversarial raw data sets for the differential test (test_rules_reference.py).

A few orgs over two to four months, tens to a few hundred rows per table, with the faults and edges of the
landing contract and rules 1 to 10 drawn at random: codes in every spelling the landing contract allows (and
unknown ones), ids with stray spaces, duplicates re-sent later, earlier and at the same `_loaded_at`,
corrections that then fail a check, null `_loaded_at`, events on a month's first instant and last
microsecond, mid-month subscription changes, wallboard accounts deleted at their creation or at a month's
first instant or before they were created, overlapping and tied contracts, contracts in another currency,
workitems of unknown cases. The same seed gives the same rows.

With `edges=True` it also draws the edges of rules 9, 11 and 13: quantities landed as DOUBLE
(`double_columns`) holding NaN, infinities, 1e20 and values just past 1,000,000,000 (rule 9); usage, accounts and
subscriptions dated before the reference data begins (rules 1 and 9); rows dated after the as-of instant, up to
9999-12-31, and accounts deleted in the future (rule 11); and `_loaded_at` years in the future (rule 13).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from overages.raw_contract import RAW_TABLES

Row = dict[str, object]

TIER_SPELLINGS = {
    "CX1": ["CX1", "cx1", "CX 1", "Genesys Cloud CX1", " cx-1 "],
    "CX2": ["CX2", "cx 2", "Genesys Cloud CX 2"],
    "CX2_DIGITAL": ["CX2_DIGITAL", "cx2 digital", "Genesys Cloud CX2 Digital", "CX2-Digital", "CX 2 Digital"],
    "CX3": ["CX3", "genesys cloud cx3", "Cx_3"],
    "CX3_DIGITAL": ["cx3digital", "CX3 DIGITAL"],
    "CX4": ["CX4", " CX 4 "],
    "EX": ["EX", "ex", "Genesys Cloud EX"],
}
BAD_TIERS = ["CX5", "Genesys Cloud", "premium", None, ""]
TYPE_SPELLINGS = {"named": ["named", "Named", " NAMED "], "concurrent": ["concurrent", "Concurrent ", "CONCURRENT"]}
BAD_TYPES = ["hybrid", None, ""]
CURRENCIES = ["USD", "CAD", "AUD", "NZD", "GBP", "EUR", "BRL", "JPY", "ZAR"]
BAD_CURRENCIES = ["XXX", "US D", None]
FEATURE_SPELLINGS = {
    "wallboard": ["wallboard", "Wallboard", " WALLBOARD ", "Wall-board"],
    "ai_tokens": ["ai_tokens", "AI_TOKENS", " ai_tokens", "AI Tokens"],
    "case_management": ["case_management", "Case_Management ", "CASE_MANAGEMENT", "Case Management"],
}
BAD_FEATURES = ["ai tokenz", "support", None]
# The quantity columns an edges data set lands as DOUBLE, and the values only a DOUBLE can hold (rule 9).
DOUBLE_COLUMNS = {"ai_token_events": ["tokens"], "contract_rates": ["unit_price", "committed_quantity"]}
NOT_BILLABLE = [float("nan"), float("inf"), float("-inf"), 1e20, 1_000_000_000.5, -1e12]
# Rules 1 and 11: instants before the reference data (2000-01) and long after any as-of instant.
PAST = [dt.datetime(1999, 12, 31, 23, 59, 59, 999999), dt.datetime(1970, 1, 1), dt.datetime(1999, 6, 15, 8)]
FUTURE = [dt.datetime(2030, 5, 1), dt.datetime(9999, 12, 31, 23, 59, 59), dt.datetime(2027, 1, 1)]


def month_add(month: dt.date, months: int) -> dt.date:
    index = month.month - 1 + months
    return dt.date(month.year + index // 12, index % 12 + 1, 1)


def start_of(month: dt.date) -> dt.datetime:
    return dt.datetime(month.year, month.month, 1)


class RawDataSet:
    """The raw rows of one seed: `tables()` returns {raw table: [rows as dicts]}."""

    def __init__(self, seed: int, edges: bool = False) -> None:
        self.edges = edges
        self.random = random.Random(seed)
        self.months = [month_add(dt.date(2026, self.random.randint(1, 9), 1), k)
                       for k in range(self.random.randint(2, 4))]  # fmt: skip
        self.orgs = [f"org-{seed}-{i}" for i in range(self.random.randint(3, 6))]
        self.landed = dt.datetime(2026, 12, 1)
        self.rows: dict[str, list[Row]] = {table: [] for table in RAW_TABLES}
        self.serial = 0

    # ----------------------------------------------------------------------------------------- values
    def chance(self, probability: float) -> bool:
        return self.random.random() < probability

    def new_id(self, prefix: str) -> str | None:
        self.serial += 1
        if self.chance(0.03):
            return self.random.choice([None, "", "  "])
        identifier = f"{prefix}{self.serial}"
        return f"  {identifier} " if self.chance(0.08) else identifier

    def loaded_at(self) -> dt.datetime | None:
        if self.chance(0.02):
            return None
        if self.edges and self.chance(0.05):
            return dt.datetime(2030, 1, 1) + dt.timedelta(seconds=self.random.randint(0, 100_000))  # rule 13
        return self.landed + dt.timedelta(seconds=self.random.randint(0, 100_000))

    def edge_instant(self, instant: dt.datetime) -> dt.datetime:
        """The instant, or (edges only, about one time in twelve) one before the reference data or far ahead."""
        if self.edges and self.chance(0.08):
            return self.random.choice([*PAST, *FUTURE])
        return instant

    def instant(self, low: dt.datetime | None = None, high: dt.datetime | None = None) -> dt.datetime:
        """A time in [low, high), a month's first instant or last microsecond one time in seven or so."""
        roll = self.random.random()
        if roll < 0.1:
            return start_of(self.random.choice(self.months))
        if roll < 0.15:
            return start_of(month_add(self.random.choice(self.months), 1)) - dt.timedelta(microseconds=1)
        low = low or start_of(self.months[0])
        high = high or start_of(month_add(self.months[-1], 1))
        return low + dt.timedelta(seconds=self.random.randint(0, max(int((high - low).total_seconds()) - 1, 0)))

    def org(self, org: str) -> str | None:
        roll = self.random.random()
        if roll < 0.02:
            return self.random.choice([None, "", "   "])
        if roll < 0.03:
            return "org-ghost"
        return f" {org}  " if roll < 0.12 else org

    def faulty(self, value: object, probability: float, faults: list) -> object:
        return self.random.choice(faults) if self.chance(probability) else value

    def with_resent(self, table: str, rows: list[Row], change) -> None:
        """The rows, and about 8% of them re-sent changed: later, earlier or at the same _loaded_at."""
        for row in rows:
            self.rows[table].append(row)
            if self.chance(0.08):
                resent = dict(row)
                change(resent)
                roll, minutes = self.random.random(), dt.timedelta(minutes=self.random.randint(1, 500))
                if row["_loaded_at"] is not None and roll < 0.8:
                    resent["_loaded_at"] = row["_loaded_at"] + (minutes if roll < 0.5 else -minutes)
                self.rows[table].append(resent)

    # ----------------------------------------------------------------------------------------- tables
    def subscriptions(self) -> None:
        for org in self.orgs:
            if self.chance(0.15):
                continue  # an org that never subscribes
            starts = sorted({self.instant(low=start_of(month_add(self.months[0], -1)))
                             for _ in range(self.random.randint(1, 3))})  # fmt: skip
            roll = self.random.random()
            if roll < 0.3:
                starts[0] = start_of(self.months[0])
            elif roll < 0.8:
                starts[0] = start_of(month_add(self.months[0], -1)) + dt.timedelta(days=self.random.randint(0, 20))
            code = self.random.choice([*CURRENCIES, "JPY", "JPY"])
            for effective_from in starts:
                if self.chance(0.3):
                    code = self.random.choice(CURRENCIES)
                row = {
                    "org_id": self.org(org) if self.chance(0.1) else org,
                    "org_name": f"Org {org}",
                    "license_tier": self.faulty(self.random.choice(self.random.choice(list(TIER_SPELLINGS.values()))),
                                                0.08, BAD_TIERS),
                    "license_type": self.faulty(self.random.choice(self.random.choice(list(TYPE_SPELLINGS.values()))),
                                                0.05, BAD_TYPES),
                    "billing_currency": self.faulty(self.random.choice([code, code.lower(), f" {code} "]), 0.05,
                                                    BAD_CURRENCIES),
                    "effective_from": effective_from,
                    "_loaded_at": self.loaded_at(),
                }  # fmt: skip
                self.rows["org_subscriptions"].append(row)
                if self.chance(0.25):  # the same org and effective_from again, with other codes
                    resent = {
                        **row,
                        "license_type": self.random.choice(TYPE_SPELLINGS[self.random.choice(list(TYPE_SPELLINGS))]),
                        "license_tier": self.faulty(self.random.choice(TIER_SPELLINGS[self.random.choice(
                            list(TIER_SPELLINGS))]), 0.2, BAD_TIERS),
                        "billing_currency": self.random.choice(CURRENCIES),
                    }  # fmt: skip
                    roll = self.random.random()
                    if row["_loaded_at"] is not None and roll < 0.8:
                        resent["_loaded_at"] = row["_loaded_at"] + dt.timedelta(hours=1 if roll < 0.5 else -1)
                    self.rows["org_subscriptions"].append(resent)
        if self.edges:  # rule 3: subscribed since 1999; rule 11: a row effective in 2030
            edge_rows = ((self.orgs[0], dt.datetime(1999, 6, 1)), (self.orgs[-1], dt.datetime(2030, 1, 1)))
            for org, effective_from in edge_rows:
                self.rows["org_subscriptions"].append({
                    "org_id": org, "org_name": f"Org {org}", "license_tier": "CX1", "license_type": "named",
                    "billing_currency": "USD", "effective_from": effective_from, "_loaded_at": self.loaded_at(),
                })  # fmt: skip
        for _ in range(self.random.randint(0, 2)):
            self.rows["org_subscriptions"].append({
                "org_id": self.random.choice([None, "", "  ", self.random.choice(self.orgs)]), "org_name": "x",
                "license_tier": "CX1", "license_type": "named", "billing_currency": "USD",
                "effective_from": self.random.choice([None, self.instant()]), "_loaded_at": self.loaded_at(),
            })  # fmt: skip

    def tokens(self, heavy: bool) -> Decimal | float | None:
        roll, random_ = self.random.random(), self.random
        if self.edges and self.chance(0.06):
            return random_.choice(NOT_BILLABLE)
        if roll < 0.6:
            return Decimal(random_.randint(0, 60 if heavy else 15))
        if roll < 0.9:
            return random_.choice([
                Decimal(random_.randint(0, 400_000)) / 10_000,
                Decimal(random_.randint(0, 4000)) / 1000 + Decimal("0.0005"),
                Decimal(random_.randint(0, 4000)) * Decimal("0.0125"),
                Decimal(random_.randint(0, 4000)) * Decimal("0.005"),
            ])  # fmt: skip
        return Decimal(-random_.randint(1, 20)) if roll < 0.95 else None

    def events(self) -> None:
        rows = []
        for org in self.orgs:
            for month in self.months:
                heavy = self.chance(0.6)
                for _ in range(self.random.randint(0, 25)):
                    rows.append({
                        "event_id": self.new_id("ev-"),
                        "org_id": self.org(org),
                        "occurred_at": None if self.chance(0.03)
                        else self.edge_instant(self.instant(start_of(month), start_of(month_add(month, 1)))),
                        "tokens": self.tokens(heavy),
                        "ai_feature": self.random.choice(["copilot", " summary", None]),
                        "_loaded_at": self.loaded_at(),
                    })  # fmt: skip

        def change(row: Row) -> None:
            roll = self.random.random()
            if roll < 0.3:
                row["tokens"] = self.random.choice([Decimal(-5), None, Decimal("7.5"), Decimal(100)])
            elif roll < 0.5:
                row["occurred_at"] = self.random.choice([None, self.instant()])
            elif roll < 0.6:
                row["org_id"] = self.org(self.random.choice(self.orgs))
            elif roll < 0.7 and row["event_id"]:
                row["event_id"] = f" {row['event_id'].strip()}"
            else:
                row["tokens"] = Decimal(self.random.randint(0, 30))

        self.with_resent("ai_token_events", rows, change)

    def cases(self) -> None:
        rows = []
        for org in self.orgs:
            for month in self.months:
                # About a third of org-months sit around the 150 free cases.
                count = self.random.randint(148, 175) if self.chance(0.35) else self.random.randint(0, 12)
                for _ in range(count):
                    rows.append({
                        "case_id": self.new_id("case-"),
                        "org_id": self.org(org) if self.chance(0.3) else org,
                        "created_at": None if self.chance(0.02)
                        else self.edge_instant(self.instant(start_of(month), start_of(month_add(month, 1)))),
                        "_loaded_at": self.loaded_at(),
                    })  # fmt: skip

        def change(row: Row) -> None:
            if self.chance(0.5):
                row["created_at"] = self.random.choice([None, self.instant()])
            else:
                row["org_id"] = self.org(self.random.choice(self.orgs))

        self.with_resent("cases", rows, change)

    def workitems(self) -> None:
        rows = []
        case_ids = [row["case_id"] for row in self.rows["cases"]]
        for case_id in [*self.random.sample(case_ids, min(len(case_ids), 60)), "case-nope", None, " case-ghost "]:
            for _ in range(self.random.randint(0, 2)):
                created = self.instant()
                roll = self.random.random()
                completed = (
                    created - dt.timedelta(minutes=5) if roll < 0.1
                    else created if roll < 0.15
                    else None if roll < 0.4
                    else created + dt.timedelta(minutes=self.random.randint(1, 500))
                )  # fmt: skip
                rows.append({
                    "workitem_id": self.new_id("wi-"),
                    "case_id": f" {case_id} " if case_id and self.chance(0.1) else case_id,
                    "queue_id": self.random.choice(["q1", "q2", None]),
                    "created_at": None if self.chance(0.05) else created,
                    "completed_at": completed,
                    "_loaded_at": self.loaded_at(),
                })  # fmt: skip

        def change(row: Row) -> None:
            row["completed_at"] = self.random.choice([None, self.instant()])

        self.with_resent("case_workitems", rows, change)

    def wallboard(self) -> None:
        rows = []
        horizon_end = start_of(month_add(self.months[-1], 1))
        for org in self.orgs:
            for _ in range(self.random.randint(0, 7)):
                created = self.instant(low=start_of(month_add(self.months[0], -2)))
                roll = self.random.random()
                if roll < 0.1:
                    deleted = created  # never active
                elif roll < 0.25:
                    deleted = start_of(self.random.choice(self.months))  # at a month's first instant
                elif roll < 0.32:
                    deleted = created - dt.timedelta(days=1)  # invalid_interval
                elif roll < 0.6:
                    deleted = None
                else:
                    deleted = created + dt.timedelta(days=self.random.randint(0, 70),
                                                     seconds=self.random.randint(0, 86_400))  # fmt: skip
                    if deleted >= horizon_end:
                        deleted = None if self.chance(0.7) else horizon_end
                if self.edges and self.chance(0.15):  # rules 9, 4: before the reference data, deleted in the future
                    created, deleted = self.random.choice([
                        (dt.datetime(1998, 3, 1), dt.datetime(1999, 2, 1)),
                        (dt.datetime(1999, 5, 1), dt.datetime(2000, 1, 1)),
                        (dt.datetime(1999, 5, 1), dt.datetime(1999, 5, 1)),
                        (dt.datetime(1999, 11, 1), None),
                        (dt.datetime(1999, 11, 1), dt.datetime(2000, 1, 1, 0, 0, 1)),
                        (created, dt.datetime(2031, 1, 1)),
                        (dt.datetime(2030, 2, 1), None),
                    ])  # fmt: skip
                rows.append({
                    "account_id": self.new_id("wb-"),
                    "org_id": self.org(org),
                    "created_at": None if self.chance(0.03) else created,
                    "deleted_at": deleted,
                    "_loaded_at": self.loaded_at(),
                })  # fmt: skip

        def change(row: Row) -> None:
            row["deleted_at"] = self.random.choice([None, self.instant(), row["created_at"]])

        self.with_resent("wallboard_accounts", rows, change)

    def contracts(self) -> None:
        for org in self.orgs:
            if self.chance(0.2):
                continue
            landed_codes = [(row["billing_currency"] or "USD").strip() for row in self.rows["org_subscriptions"]
                            if (row["org_id"] or "").strip() == org]  # fmt: skip
            for _ in range(self.random.randint(1, 5)):
                valid_from = self.random.choice([month_add(self.months[0], -1), *self.months])
                roll = self.random.random()
                valid_to = (
                    None if roll < 0.5
                    else month_add(valid_from, self.random.randint(1, 3)) if roll < 0.9
                    else self.random.choice([valid_from, month_add(valid_from, -1)])
                )  # fmt: skip
                code = self.random.choice(landed_codes) if landed_codes and self.chance(0.75) else None
                row = {
                    "org_id": self.random.choice([None, "", "org-ghost"]) if self.chance(0.04) else self.org(org),
                    "feature": self.faulty(self.random.choice(self.random.choice(list(FEATURE_SPELLINGS.values()))),
                                           0.08, BAD_FEATURES),
                    "currency": self.faulty(code or self.random.choice(CURRENCIES), 0.05, BAD_CURRENCIES),
                    "unit_price": self.faulty(self.random.choice([Decimal("0.5"), Decimal("0.3333"),
                                              Decimal("12.5"), Decimal("0.0150"), Decimal("1.2345"), Decimal("0")]),
                                              0.05, [None, Decimal("-1")]),
                    "committed_quantity": self.faulty(self.random.choice([Decimal(0), Decimal(10), Decimal("2.5"),
                                                      Decimal(300), Decimal(5)]), 0.07, [None, Decimal("-3")]),
                    "valid_from": None if self.chance(0.03) else valid_from,
                    "valid_to": valid_to,
                    "_loaded_at": self.loaded_at(),
                }  # fmt: skip
                if self.edges and self.chance(0.15):
                    row[self.random.choice(["unit_price", "committed_quantity"])] = self.random.choice(NOT_BILLABLE)
                self.rows["contract_rates"].append(row)
                if self.chance(0.25):  # the same valid_from again: later, earlier or at the same _loaded_at
                    resent = {**row, "unit_price": Decimal("0.75"), "committed_quantity": Decimal(1)}
                    if row["_loaded_at"] is not None and self.chance(0.7):
                        resent["_loaded_at"] = row["_loaded_at"] + dt.timedelta(hours=self.random.choice([-2, 3]))
                    self.rows["contract_rates"].append(resent)

    def tables(self) -> dict[str, list[Row]]:
        self.subscriptions()
        self.events()
        self.cases()
        self.workitems()
        self.wallboard()
        self.contracts()
        for rows in self.rows.values():
            self.random.shuffle(rows)
        if self.edges:  # landed as DOUBLE: every quantity a float, as the engine reads it
            for table, columns in DOUBLE_COLUMNS.items():
                for row in self.rows[table]:
                    for column in columns:
                        if row[column] is not None:
                            row[column] = float(row[column])
        return self.rows


def second_batch(tables: dict[str, list[Row]], seed: int) -> dict[str, list[Row]]:
    """Rows landed after the first batch: corrections of events and cases (moved to another month, or now
    faulty), subscription rows re-sent with another licence type or currency, and an org's new subscription
    row 40 days before the earliest, which changes past months."""
    random_ = random.Random(seed)
    landed = dt.datetime(2026, 12, 10)
    batch: dict[str, list[Row]] = {table: [] for table in RAW_TABLES}
    events = [row for row in tables["ai_token_events"] if row["event_id"]]
    for row in random_.sample(events, min(15, len(events))):
        roll = random_.random()
        corrected = {**row, "_loaded_at": landed + dt.timedelta(seconds=random_.randint(0, 1000))}
        if roll < 0.3:
            corrected["tokens"] = Decimal(-1)
        elif roll < 0.6 and row["occurred_at"]:
            corrected["occurred_at"] = row["occurred_at"] + dt.timedelta(days=random_.choice([-35, 31]))
        else:
            corrected["tokens"] = Decimal(random_.randint(0, 900))
        batch["ai_token_events"].append(corrected)
    cases = [row for row in tables["cases"] if row["case_id"]]
    for row in random_.sample(cases, min(15, len(cases))):
        moved = row["created_at"] and row["created_at"] + dt.timedelta(days=random_.choice([-31, 31]))
        batch["cases"].append({**row, "created_at": None if random_.random() < 0.3 else moved, "_loaded_at": landed})
    subscriptions = [row for row in tables["org_subscriptions"] if row["org_id"] and row["effective_from"]]
    for row in random_.sample(subscriptions, min(3, len(subscriptions))):
        batch["org_subscriptions"].append({**row, "license_type": random_.choice(["named", "concurrent"]),
                                           "billing_currency": random_.choice(["USD", "JPY", "EUR"]),
                                           "_loaded_at": landed})  # fmt: skip
    if subscriptions:
        earliest = min(row["effective_from"] for row in subscriptions)
        batch["org_subscriptions"].append({
            "org_id": random_.choice(subscriptions)["org_id"], "org_name": "x", "license_tier": "CX2",
            "license_type": "concurrent", "billing_currency": "GBP",
            "effective_from": earliest - dt.timedelta(days=40), "_loaded_at": landed,
        })  # fmt: skip
    return batch


def as_tuples(tables: dict[str, list[Row]]) -> dict[str, list[tuple]]:
    """The rows in the raw contract's column order, as conftest.land_raw takes them."""
    return {table: [tuple(row[column.name] for column in RAW_TABLES[table]) for row in rows]
            for table, rows in tables.items()}  # fmt: skip
