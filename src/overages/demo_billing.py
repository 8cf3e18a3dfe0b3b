"""What Genesys Cloud would bill for the demo, as `overages extract genesys` would land it: billing-period
charges and invoice lines that agree with the demo's usage, except for a few deliberate differences of each
reconciliation status.

The figures are computed here in Python from the demo's raw rows with the rules of docs/rules.md (rule 2's
latest landing, rule 9's faults, rule 3's subscription of a month, rules 4 to 8), independently of the
warehouse's SQL, so the reconciliation compares two separate computations. Only "clean" orgs are billed
(one valid subscription row, no contract rows): they are what the rules can be applied to without the whole
of the warehouse's logic, and an org-month Genesys does not bill is outside the reconciliation
(fct_billing_reconciliation). No random numbers are drawn: a seed's six raw tables of the landing contract
stay exactly as they were.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

CASE_SKU = "GC-170-NV-CASEMGMT"
PRODUCTS = {  # feature -> (SKU, product name), as ref_genesys_products maps them back
    "case_management": (CASE_SKU, "Case Management"),
    "wallboard": (None, "Wallboard Accounts"),
    "ai_tokens": (None, "AI Tokens"),
}
FEATURES = tuple(PRODUCTS)
LICENSE_TIERS = {"CX1", "CX2", "CX2_DIGITAL", "CX3", "CX3_DIGITAL", "CX4", "EX"}
UNKNOWN_ORG = "org-billed-elsewhere"  # an org Genesys bills that the demo's raw data does not know


@dataclass(frozen=True)
class Reference:
    allocation: dict[tuple[str, str], Decimal]  # (feature, licence type) -> free quantity
    price: dict[tuple[str, str], Decimal]  # (feature, currency) -> list price
    minor_units: dict[str, int]


def load_reference() -> Reference:
    from overages.warehouse import PROJECT_DIR

    folder = PROJECT_DIR / "seeds" / "reference"
    allocations = pd.read_csv(folder / "ref_free_allocations.csv", dtype=str)
    prices = pd.read_csv(folder / "ref_list_prices.csv", dtype=str)
    currencies = pd.read_csv(folder / "ref_currencies.csv", dtype=str)
    return Reference(
        allocation={(r.feature, r.license_type): Decimal(r.free_quantity) for r in allocations.itertuples()},
        price={(r.feature, r.currency): Decimal(r.unit_price) for r in prices.itertuples()},
        minor_units={r.currency: int(r.minor_units) for r in currencies.itertuples()},
    )


def _clean(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _tier(value: object) -> str | None:
    text = (_clean(value) or "").upper()
    text = re.sub(r"^GENESYS[ _-]*CLOUD", "", text)
    return re.sub(r"[ _-]+", "", text).replace("DIGITAL", "_DIGITAL") or None


def _latest(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Rule 2: of the rows sharing a complete key, the one landed last (the demo has no ties)."""
    frame = frame.assign(_key=[_clean(v) for v in frame[key]])
    frame = frame[frame["_key"].notna()]
    return frame.sort_values("_loaded_at").drop_duplicates("_key", keep="last")


def _month(instants: pd.Series) -> pd.Series:
    return instants.dt.to_period("M").dt.to_timestamp()


def _round(amount: Decimal, places: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def clean_orgs(tables: dict[str, pd.DataFrame], reference: Reference) -> dict[str, tuple[str, str, pd.Timestamp]]:
    """Orgs with exactly one valid subscription row and no contract row: org -> (licence type, currency, from)."""
    subs = tables["org_subscriptions"]
    with_contracts = {_clean(o) for o in tables["contract_rates"]["org_id"]}
    currencies = set(reference.minor_units)
    chosen = {}
    for org, rows in subs.assign(_org=[_clean(o) for o in subs["org_id"]]).groupby("_org"):
        if len(rows) != 1 or org in with_contracts:
            continue
        row = rows.iloc[0]
        licence_type = (_clean(row["license_type"]) or "").lower()
        currency = (_clean(row["billing_currency"]) or "").upper()
        if (pd.isna(row["effective_from"]) or _tier(row["license_tier"]) not in LICENSE_TIERS
                or licence_type not in ("named", "concurrent") or currency not in currencies):  # fmt: skip
            continue
        chosen[str(org)] = (licence_type, currency, pd.Timestamp(row["effective_from"]))
    return chosen


def usage(tables: dict[str, pd.DataFrame], orgs: set[str], months: list[pd.Timestamp]) -> dict[tuple, Decimal]:
    """Rule 4 for the chosen orgs: (org, month, feature) -> usage, over rule 2's winners without a fault."""
    result: dict[tuple, Decimal] = {}
    events = _latest(tables["ai_token_events"], "event_id")
    events = events.assign(_org=[_clean(o) for o in events["org_id"]])
    events = events[events["_org"].isin(orgs) & events["occurred_at"].notna() & events["tokens"].notna()]
    events = events[(events["tokens"] >= 0) & (events["tokens"] <= 1e9)]
    for (org, month), tokens in events.groupby(["_org", _month(events["occurred_at"])])["tokens"]:
        result[(org, month, "ai_tokens")] = sum((Decimal(str(round(t, 6))) for t in tokens), Decimal(0))
    cases = _latest(tables["cases"], "case_id")
    cases = cases.assign(_org=[_clean(o) for o in cases["org_id"]])
    cases = cases[cases["_org"].isin(orgs) & cases["created_at"].notna()]
    for (org, month), count in cases.groupby(["_org", _month(cases["created_at"])]).size().items():
        result[(org, month, "case_management")] = Decimal(int(count))
    accounts = _latest(tables["wallboard_accounts"], "account_id")
    accounts = accounts.assign(_org=[_clean(o) for o in accounts["org_id"]])
    accounts = accounts[accounts["_org"].isin(orgs) & accounts["created_at"].notna()]
    accounts = accounts[~(accounts["deleted_at"] < accounts["created_at"])]
    for month in months:
        end = month + pd.DateOffset(months=1)
        active = accounts[(accounts["created_at"] < end)
                          & (accounts["deleted_at"].isna() | (accounts["deleted_at"] > month))
                          & ~(accounts["deleted_at"] == accounts["created_at"])]  # fmt: skip
        for org, count in active.groupby("_org")["_key"].nunique().items():
            result[(org, month, "wallboard")] = Decimal(int(count))
    return result


def generate(tables: dict[str, pd.DataFrame], months: list[pd.Timestamp]) -> dict[str, pd.DataFrame]:
    """The two Genesys billing tables for the demo's raw tables and months (the last month's period open)."""
    reference = load_reference()
    orgs = clean_orgs(tables, reference)
    used = usage(tables, set(orgs), months)
    charges: list[dict[str, object]] = []
    for org in sorted(orgs):
        licence_type, currency, since = orgs[org]
        for month in months:
            if since >= month + pd.DateOffset(months=1):  # rule 3: not subscribed at the month's last instant
                continue
            for feature in FEATURES:
                quantity = used.get((org, month, feature), Decimal(0))
                free = reference.allocation[(feature, licence_type)]
                overage = max(quantity - free, Decimal(0))
                rate = reference.price[(feature, currency)]
                charges.append({"org_id": org, "month": month, "feature": feature, "actual": quantity, "free": free,
                                "overage": overage, "rate": rate, "currency": currency,
                                "charge": _round(overage * rate, reference.minor_units[currency])})  # fmt: skip
    _deliberate_differences(charges, months, reference)
    return {"genesys_billing_charges": _charge_rows(charges, months),
            "genesys_invoice_lines": _invoice_rows(charges, months)}  # fmt: skip


def _deliberate_differences(charges: list[dict[str, object]], months: list[pd.Timestamp], reference: Reference) -> None:
    """One row of each status the reconciliation reports, on the first billed row of a feature that fits."""

    def billed(feature: str, skip: int = 0) -> dict[str, object] | None:
        rows = [c for c in charges if c["feature"] == feature and c["overage"] > 0 and "status" not in c]
        return rows[skip] if len(rows) > skip else None

    if row := billed("case_management"):  # Genesys counted three more cases
        row.update(status="quantity_differs", actual=row["actual"] + 3, overage=row["overage"] + 3)
        row["charge"] = _round(row["overage"] * row["rate"], reference.minor_units[row["currency"]])
    if row := billed("ai_tokens"):  # another price
        row.update(status="rate_differs", rate=_round(row["rate"] * Decimal("1.1"), 4))
        row["charge"] = _round(row["overage"] * row["rate"], reference.minor_units[row["currency"]])
    if row := billed("case_management"):  # the same quantity and rate, a different amount
        row.update(status="amount_differs", charge=row["charge"] + 1)
    if row := billed("wallboard") or billed("ai_tokens"):  # Genesys does not bill what we do
        row["status"] = "only_here"
    charges[:] = [c for c in charges if c.get("status") != "only_here"]
    charges.append({"org_id": UNKNOWN_ORG, "month": months[-1], "feature": "case_management", "actual": Decimal(160),
                    "free": Decimal(150), "overage": Decimal(10), "rate": Decimal("0.40"), "currency": "USD",
                    "charge": Decimal("4.00"), "status": "only_in_genesys"})  # fmt: skip


def _period_id(month: pd.Timestamp) -> str:
    return f"bp-{month:%Y-%m}"


def _charge_rows(charges: list[dict[str, object]], months: list[pd.Timestamp]) -> pd.DataFrame:
    rows = []
    for number, c in enumerate(charges):
        month = c["month"]
        sku, name = PRODUCTS[c["feature"]]
        is_open = month == months[-1]
        landed = month + pd.DateOffset(months=1, days=2)
        row = {"contract_id": "contract-demo", "billing_period_id": _period_id(month),
               "period_status": "Open" if is_open else "Closed", "period_start": month,
               "period_end": month + pd.DateOffset(months=1, days=-1), "charge_id": f"ch-{number:06d}",
               "product_sku": sku, "product_name": name, "unit_of_measure": "Each", "org_id": c["org_id"],
               "org_name": None, "prepaid_quantity": Decimal(0), "fairuse_quantity": c["free"],
               "actual_quantity": c["actual"], "overage_quantity": c["overage"], "overage_rate": c["rate"],
               "overage_charge": c["charge"], "overage_currency": c["currency"], "_loaded_at": landed}  # fmt: skip
        if is_open:  # the open period was extracted mid-month too: an earlier, smaller landing (a duplicate)
            rows.append({**row, "actual_quantity": Decimal(0), "overage_quantity": Decimal(0),
                         "overage_charge": Decimal(0), "_loaded_at": month + pd.DateOffset(days=15)})  # fmt: skip
        rows.append(row)
    if rows:  # a loader fault: a charge that names no organization and was landed without one
        rows.append({**rows[0], "charge_id": "ch-no-org", "org_id": None})
    return pd.DataFrame(rows)


def _invoice_rows(charges: list[dict[str, object]], months: list[pd.Timestamp]) -> pd.DataFrame:
    """One invoice per org and closed month, a line per charge with an amount; the open month is not invoiced."""
    rows = []
    for c in charges:
        month = c["month"]
        if month == months[-1] or c["charge"] <= 0:
            continue
        sku, name = PRODUCTS[c["feature"]]
        invoice_date = month + pd.DateOffset(months=1, days=2)
        rows.append({"invoice_id": f"inv-{c['org_id']}-{month:%Y%m}", "line_id": f"{c['feature']}",
                     "invoice_date": invoice_date, "currency": c["currency"], "product_sku": sku, "product_name": name,
                     "description": f"{name} overage {month:%B %Y}", "org_id": c["org_id"], "quantity": c["overage"],
                     "unit_of_measure": "Each", "amount": c["charge"], "date_start": month,
                     "date_end": month + pd.DateOffset(months=1, days=-1),
                     "_loaded_at": invoice_date + pd.DateOffset(days=1)})  # fmt: skip
    if rows:  # a line landed twice by two extracts (a duplicate), and one in a currency nobody bills in
        rows.append({**rows[0], "_loaded_at": rows[0]["_loaded_at"] + pd.DateOffset(days=1)})
        rows.append({**rows[-2], "line_id": "xyz", "currency": "XYZ"})
    return pd.DataFrame(rows)
