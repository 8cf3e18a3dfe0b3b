"""The billing rules of docs/rules.md as plain Python, for the differential test (test_rules_reference.py).

Written from docs/rules.md and the seed CSVs alone, without the models' SQL, as a second reading of the
rules: a row at a time, with Decimal arithmetic. It is slow and meant for a few thousand rows.

It follows every detail docs/rules.md settles, among them:
- ties between duplicates with the same `_loaded_at` go to the row whose other columns are smallest, in the
  raw table's column order, nulls last (ids and codes compared cleaned; a subscription's tier as landed);
  a null `_loaded_at` loses to any time;
- ids and org ids are trimmed, their letter case kept;
- a contract's currency is checked in the first month it covers in which the org has a subscription;
- two contracts with the same `valid_from` and `_loaded_at`: the lower `unit_price`, then the higher
  `committed_quantity`, then the later `valid_to` (open first);
- a rejected workitem carries the org of its case id's winning row;
- `list_amount_usd` prices the billed quantity (a commitment included) at the USD list price;
- rule 9: a quantity that is not finite or beyond 1,000,000,000 either way reads as null (it ties as a null among
  duplicates); a DOUBLE value reads as the decimal the engine casts it to (rounded to the column's places);
- rules 1 and 9: a wallboard account deleted by the first instant of the reference data is no_reference_data, even one
  never active; a contract's currency is checked in the first month it covers that is a billing month of
  the org (on or after its first subscription and the reference data's start);
- rule 11: the horizon is the month of the latest accepted instant up to the as-of instant.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "reference"
FEATURES = ("wallboard", "ai_tokens", "case_management")
FOUR_PLACES = Decimal("0.0001")

Row = dict[str, object]


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _in_force(row: dict, month: dt.date) -> bool:
    """Rule 5: valid_from <= the month's first day < valid_to (an open valid_to never ends)."""
    return row["valid_from"] <= month and (row["valid_to"] is None or month < row["valid_to"])


def _dated(name: str, **casts: Callable[[str], object]) -> list[dict]:
    rows = []
    for row in _seed(name):
        typed = {key: casts.get(key, str)(value) for key, value in row.items() if key not in ("valid_from", "valid_to")}
        rows.append({**typed, "valid_from": _date(row["valid_from"]), "valid_to": _date(row["valid_to"])})
    return rows


ALLOCATIONS = _dated("ref_free_allocations.csv", free_quantity=Decimal)
LIST_PRICES = _dated("ref_list_prices.csv", unit_price=Decimal)
CURRENCIES = _dated("ref_currencies.csv", minor_units=int)
FEATURE_ROWS = _dated("ref_features.csv")
TIERS = {row["license_tier"] for row in _seed("ref_license_tiers.csv")}
TYPES = {row["license_type"] for row in _seed("ref_license_types.csv")}
CURRENCY_CODES = {row["currency"] for row in CURRENCIES}
FEATURE_CODES = {row["feature"] for row in FEATURE_ROWS}
# Rule 1: billing months begin with the month of the earliest valid_from of the reference data.
REFERENCE_START = min(
    _date(row["valid_from"])
    for name in ("ref_features.csv", "ref_free_allocations.csv", "ref_list_prices.csv", "ref_currencies.csv",
                 "ref_license_tiers.csv", "ref_license_types.csv")
    for row in _seed(name)
).replace(day=1)  # fmt: skip
MAX_QUANTITY = Decimal(1_000_000_000)


def _one(rows: list[dict], month: dt.date, column: str, **match: str) -> object:
    found = [row[column] for row in rows if _in_force(row, month) and all(row[k] == v for k, v in match.items())]
    assert len(found) == 1, f"reference data: {len(found)} rows for {match} in {month}"
    return found[0]


# ----------------------------------------------------------------------------------------- quantities (rule 9)
def quantity(value: object, places: int) -> Decimal | None:
    """A landed quantity as staging reads it: null where it is not a finite number within +/-1e9 (never
    billable); a float (a DOUBLE column) rounded to the decimal column's places, as the engine's cast does."""
    if value is None:
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) > MAX_QUANTITY:
            return None
        return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    number = Decimal(value)
    if not number.is_finite() or abs(number) > MAX_QUANTITY:
        return None
    return number


def invalid_quantity(value: Decimal | None) -> bool:
    return value is None or value < 0 or value > MAX_QUANTITY


# ------------------------------------------------------------------------------------------ codes (raw tables)
def clean_id(value: object) -> str | None:
    """Ids: trimmed; empty means missing."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def clean_code(value: object) -> str | None:
    """Codes (licence type, feature): any letter case, stray spaces; runs of spaces or hyphens read as `_`."""
    text = clean_id(value)
    return re.sub(r"[ -]+", "_", text.lower()) if text else None


def license_tier(value: object) -> str | None:
    """`cx2 digital`, `Genesys Cloud CX2 Digital`, `CX2-Digital`, `CX 2 Digital` are all CX2_DIGITAL."""
    text = clean_id(value)
    if text is None:
        return None
    squashed = re.sub(r"[ _-]+", "", re.sub(r"^GENESYS[ _-]*CLOUD", "", text.upper()))
    return {tier.replace("_", ""): tier for tier in TIERS}.get(squashed, squashed or None)


def currency(value: object) -> str | None:
    text = clean_id(value)
    return text.upper() if text else None


# ------------------------------------------------------------------------------------------ months (rule 1)
def month_of(at: dt.datetime | dt.date) -> dt.date:
    return dt.date(at.year, at.month, 1)


def next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_start(month: dt.date) -> dt.datetime:
    return dt.datetime(month.year, month.month, 1)


def rounded(amount: Decimal, minor_units: int) -> Decimal:
    """Rule 8: to the currency's minor units, halves away from zero."""
    return amount.quantize(Decimal(1).scaleb(-minor_units), rounding=ROUND_HALF_UP).quantize(FOUR_PLACES)


# -------------------------------------------------------------------------------------- duplicates (rule 2)
def _ascending_nulls_last(value: object) -> tuple:
    return (1, "") if value is None else (0, value)


def deduplicated(rows: list[Row], key: Callable[[Row], object], tiebreak: list[str]) -> tuple[list[Row], list[Row]]:
    """Rows with a complete key: the latest _loaded_at wins, ties by `tiebreak` ascending, nulls last. Returns
    (winners and rows without a complete key, losers)."""
    groups: dict[object, list[Row]] = {}
    keyless = []
    for row in rows:
        row_key = key(row)
        if row_key is None:
            keyless.append(row)
        else:
            groups.setdefault(row_key, []).append(row)
    winners, losers = [], []
    for group in groups.values():
        group.sort(key=lambda row: (
            (1, 0) if row["_loaded_at"] is None else (0, -row["_loaded_at"].timestamp()),
            *(_ascending_nulls_last(row[column]) for column in tiebreak),
        ))  # fmt: skip
        winners.append(group[0])
        losers.extend(group[1:])
    return winners + keyless, losers


@dataclass
class Result:
    monthly_overages: list[Row]
    rejected_rows: list[Row]


def compute(raw: dict[str, list[Row]], through_month: dt.date | None = None,
            as_of: dt.datetime = dt.datetime.max) -> Result:  # fmt: skip
    """raw: each raw table's rows as dicts of its columns; as_of: the build's as-of instant (rule 11). Returns the rows
    of marts.fct_monthly_overages and audit.rejected_rows that the rules give."""
    rejected: list[Row] = []
    raw = {
        **raw,
        "ai_token_events": [{**row, "tokens": quantity(row["tokens"], 8)} for row in raw["ai_token_events"]],
        "contract_rates": [{**row, "unit_price": quantity(row["unit_price"], 4),
                            "committed_quantity": quantity(row["committed_quantity"], 4)}
                           for row in raw["contract_rates"]],
    }  # fmt: skip

    def reject(table: str, record_id: str | None, org_id: str | None, reason: str, row: Row) -> None:
        rejected.append({"source_table": table, "record_id": record_id, "org_id": org_id, "reason": reason,
                         "_loaded_at": row["_loaded_at"]})  # fmt: skip

    # Subscriptions (rules 2, 3, 9).
    subscriptions = [
        {
            **row,
            "org": clean_id(row["org_id"]),
            "tier": license_tier(row["license_tier"]),
            "type": clean_code(row["license_type"]),
            "currency": currency(row["billing_currency"]),
            "tier_landed": row["license_tier"],
        }  # fmt: skip
        for row in raw["org_subscriptions"]
    ]

    def subscription_id(row: Row) -> str | None:
        return f"{row['org']}|{row['effective_from']}" if row["org"] and row["effective_from"] else None

    candidates, losers = deduplicated(
        subscriptions,
        lambda row: (row["org"], row["effective_from"]) if row["org"] and row["effective_from"] else None,
        ["tier_landed", "type", "currency", "org_name"],
    )
    for row in losers:
        reject("org_subscriptions", subscription_id(row), row["org"], "duplicate", row)
    in_force_rows: dict[str, list[tuple]] = {}
    for row in candidates:
        reason = (
            "missing_org" if row["org"] is None
            else "missing_timestamp" if row["effective_from"] is None
            else "unknown_license_tier" if row["tier"] not in TIERS
            else "unknown_license_type" if row["type"] not in TYPES
            else "unknown_currency" if row["currency"] not in CURRENCY_CODES
            else None
        )  # fmt: skip
        if reason:
            reject("org_subscriptions", subscription_id(row), row["org"], reason, row)
        else:
            in_force_rows.setdefault(row["org"], []).append(
                (row["effective_from"], row["tier"], row["type"], row["currency"])
            )
    for rows in in_force_rows.values():
        rows.sort()

    def subscription_of(org: str | None, month: dt.date) -> tuple | None:
        """Rule 3: the accepted row in force at the month's last instant (effective before the next month)."""
        in_force = [row for row in in_force_rows.get(org, []) if month_of(row[0]) <= month]
        return in_force[-1] if in_force else None

    def first_billing_month(org: str) -> dt.date:
        """Rules 1 and 3: the org's first subscribed month, or the reference data's first month if that is later."""
        return max(month_of(in_force_rows[org][0][0]), REFERENCE_START)

    def usage_reason(org: str, month: dt.date) -> str | None:
        """Rule 9's no_reference_data, then its no_subscription, for a sound usage row of an org and month."""
        if month < REFERENCE_START:
            return "no_reference_data"
        return "no_subscription" if subscription_of(org, month) is None else None

    latest_instants = [row[0] for rows in in_force_rows.values() for row in rows]

    case_org: dict[str, str | None] = {}

    def by_id(table: str, id_column: str, tiebreak: list[str], org_of: Callable[[Row], str | None]) -> list[Row]:
        """missing_id and duplicate (rules 2, 9) of a table keyed by one id; the candidates that remain."""
        cleaned = [{**row, **{c: clean_id(row[c]) if isinstance(row[c], str) else row[c] for c in tiebreak},
                    "id": clean_id(row[id_column])} for row in raw[table]]  # fmt: skip
        for row in cleaned:
            if row["id"] is None:
                reject(table, None, org_of(row), "missing_id", row)
        winners, losers = deduplicated([r for r in cleaned if r["id"]], lambda row: row["id"], tiebreak)
        for row in losers:
            reject(table, row["id"], org_of(row), "duplicate", row)
        return winners

    def own_org(row: Row) -> str | None:
        return clean_id(row["org_id"])

    # AI token events (rules 4, 9).
    tokens: dict[tuple, Decimal] = {}
    for row in by_id("ai_token_events", "event_id", ["org_id", "occurred_at", "tokens", "ai_feature"], own_org):
        org = own_org(row)
        reason = (
            "missing_org" if org is None
            else "missing_timestamp" if row["occurred_at"] is None
            else "invalid_quantity" if invalid_quantity(row["tokens"])
            else usage_reason(org, month_of(row["occurred_at"]))
        )  # fmt: skip
        if reason:
            reject("ai_token_events", row["id"], org, reason, row)
        else:
            key = (org, month_of(row["occurred_at"]))
            tokens[key] = tokens.get(key, Decimal(0)) + row["tokens"]
            latest_instants.append(row["occurred_at"])

    # Cases.
    cases: dict[tuple, int] = {}
    accepted_cases = set()
    for row in by_id("cases", "case_id", ["org_id", "created_at"], own_org):
        org = own_org(row)
        case_org[row["id"]] = org
        reason = (
            "missing_org" if org is None
            else "missing_timestamp" if row["created_at"] is None
            else usage_reason(org, month_of(row["created_at"]))
        )  # fmt: skip
        if reason:
            reject("cases", row["id"], org, reason, row)
        else:
            key = (org, month_of(row["created_at"]))
            cases[key] = cases.get(key, 0) + 1
            accepted_cases.add(row["id"])
            latest_instants.append(row["created_at"])

    # Wallboard accounts.
    accounts = []
    for row in by_id("wallboard_accounts", "account_id", ["org_id", "created_at", "deleted_at"], own_org):
        org = own_org(row)
        reason = (
            "missing_org" if org is None
            else "missing_timestamp" if row["created_at"] is None
            else "invalid_interval" if row["deleted_at"] is not None and row["deleted_at"] < row["created_at"]
            else "no_reference_data" if row["deleted_at"] is not None and row["deleted_at"] <= month_start(
                REFERENCE_START)
            else "no_subscription" if org not in in_force_rows
            else None
        )  # fmt: skip
        if reason:
            reject("wallboard_accounts", row["id"], org, reason, row)
        else:
            accounts.append((org, row["created_at"], row["deleted_at"]))
            latest_instants += [at for at in (row["created_at"], row["deleted_at"]) if at is not None]

    # Workitems: analytics only, but every row is accepted or rejected.
    def case_org_of(row: Row) -> str | None:
        return case_org.get(clean_id(row["case_id"]))

    workitem_tiebreak = ["case_id", "queue_id", "created_at", "completed_at"]
    for row in by_id("case_workitems", "workitem_id", workitem_tiebreak, case_org_of):
        reason = (
            "missing_timestamp" if row["created_at"] is None
            else "invalid_interval" if row["completed_at"] is not None and row["completed_at"] < row["created_at"]
            else "unknown_case" if clean_id(row["case_id"]) not in accepted_cases
            else None
        )  # fmt: skip
        if reason:
            reject("case_workitems", row["id"], case_org_of(row), reason, row)

    # Contract rates (rules 7, 9): no natural key, so never a duplicate.
    contracts = []
    for row in raw["contract_rates"]:
        org, feature, code = clean_id(row["org_id"]), clean_code(row["feature"]), currency(row["currency"])
        record_id = f"{org}|{feature}|{row['valid_from']}" if org and feature and row["valid_from"] else None
        reason = (
            "missing_org" if org is None
            else "missing_timestamp" if row["valid_from"] is None
            else "invalid_quantity" if any(invalid_quantity(row[c]) for c in ("unit_price", "committed_quantity"))
            else "invalid_interval" if row["valid_to"] is not None and row["valid_to"] <= row["valid_from"]
            else "unknown_currency" if code not in CURRENCY_CODES
            else "unknown_feature" if feature not in FEATURE_CODES
            else "no_subscription" if org not in in_force_rows
            else None
        )  # fmt: skip
        if reason is None:
            first_covered = row["valid_from"] if row["valid_from"].day == 1 else next_month(month_of(row["valid_from"]))
            first_checked = max(first_covered, first_billing_month(org))
            if subscription_of(org, first_checked)[3] != code:
                reason = "contract_currency_mismatch"
        if reason:
            reject("contract_rates", record_id, org, reason, row)
        else:
            contracts.append({**row, "org": org, "feature": feature, "currency": code})

    # The horizon and the marts (rules 4 to 8 and 11): instants after the as-of instant never move it.
    known = [at for at in latest_instants if at <= as_of]
    if through_month is not None:
        horizon = through_month
    elif known:
        horizon = month_of(max(known))
    else:
        return Result([], rejected)
    monthly = []
    for org in sorted(in_force_rows):
        month = first_billing_month(org)
        while month <= horizon:
            _, tier, licence_type, billing_currency = subscription_of(org, month)
            starts, ends = month_start(month), month_start(next_month(month))
            for feature in FEATURES:
                if feature == "ai_tokens":
                    usage = tokens.get((org, month), Decimal(0))
                elif feature == "case_management":
                    usage = Decimal(cases.get((org, month), 0))
                else:  # active on [created_at, deleted_at) at some instant of the month
                    usage = Decimal(sum(
                        1 for account_org, created, deleted in accounts
                        if account_org == org and created < ends
                        and (deleted is None or (deleted > starts and deleted > created))
                    ))  # fmt: skip
                free = _one(ALLOCATIONS, month, "free_quantity", license_tier=tier, license_type=licence_type,
                            feature=feature)  # fmt: skip
                overage = max(usage - free, Decimal(0))
                applying = sorted(
                    (c for c in contracts
                     if c["org"] == org and c["feature"] == feature and c["currency"] == billing_currency
                     and _in_force(c, month)),
                    key=lambda c: (
                        c["valid_from"],
                        (0, dt.datetime.min) if c["_loaded_at"] is None else (1, c["_loaded_at"]),
                        -c["unit_price"],
                        c["committed_quantity"],
                        (1, dt.date.max) if c["valid_to"] is None else (0, c["valid_to"]),
                    ),
                )  # fmt: skip
                if applying:
                    contract = applying[-1]
                    committed, price, source = contract["committed_quantity"], contract["unit_price"], "contract"
                    billed = max(overage, committed)
                else:
                    committed, source = Decimal(0), "list"
                    price = _one(LIST_PRICES, month, "unit_price", feature=feature, currency=billing_currency)
                    billed = overage
                minor_units = _one(CURRENCIES, month, "minor_units", currency=billing_currency)
                usd_price = _one(LIST_PRICES, month, "unit_price", feature=feature, currency="USD")
                monthly.append({
                    "org_id": org, "billing_month": month, "feature": feature, "license_tier": tier,
                    "license_type": licence_type, "billing_currency": billing_currency,
                    "usage_quantity": usage, "free_allocation": free, "overage_quantity": overage,
                    "committed_quantity": committed, "billed_quantity": billed, "unit_price": price,
                    "price_source": source, "overage_amount": rounded(billed * price, minor_units),
                    "list_amount_usd": rounded(billed * usd_price, 2),
                    "invoice_code": _one(FEATURE_ROWS, month, "invoice_code", feature=feature) or None,
                })  # fmt: skip
            month = next_month(month)
    return Result(monthly, rejected)
