"""The short report a build prints: what the warehouse now holds and how to query it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from overages import money

# Orgs shown first in the summary: last month's largest bills.
TOP_ORGS = 5


def collect(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What the marts hold, as plain data (for the text report and for --json)."""
    orgs, months, first, last = con.execute(
        "select count(distinct org_id), count(distinct billing_month), min(billing_month), max(billing_month) "
        "from marts.fct_monthly_overages"
    ).fetchall()[0]
    overage = [
        {"feature": f, "currency": c, "billed_org_months": n, "overage_amount": a, "list_amount_usd": u}
        for f, c, n, a, u in con.execute(
            "select feature, billing_currency, count(*) filter (where billed_quantity > 0), "
            "sum(overage_amount), sum(list_amount_usd) "
            "from marts.fct_monthly_overages group by all order by feature, billing_currency"
        ).fetchall()
    ]
    rejected = [
        {"source_table": t, "reason": r, "rows": n}
        for t, r, n in con.execute(
            "select source_table, reason, count(*) from audit.rejected_rows group by all order by 1, 3 desc, 2"
        ).fetchall()
    ]
    landed, accepted, rejected_total, balanced = con.execute(
        "select sum(rows_landed), sum(rows_accepted), sum(rows_rejected), bool_and(is_balanced) "
        "from audit.raw_reconciliation"
    ).fetchall()[0]
    return {
        "top_orgs_last_month": top_orgs_last_month(con),
        "minor_units": money.minor_units(con),
        "orgs": orgs,
        "billing_months": months,
        "first_month": first.isoformat() if first else None,
        "last_month": last.isoformat() if last else None,
        "overage_by_feature_and_currency": overage,
        "raw_rows": {"landed": landed, "accepted": accepted, "rejected": rejected_total, "balanced": balanced},
        "rejected_by_reason": rejected,
    }


def top_orgs_last_month(con: duckdb.DuckDBPyConnection, limit: int = TOP_ORGS) -> dict[str, Any]:
    """The last month that has ended (else the latest month) and its largest invoices: ranked by the charges
    at the USD list price (comparable across currencies), each with what the org owes in its own currency."""
    found = con.execute("select count(*) from information_schema.tables where table_schema = 'marts' "
                        "and table_name = 'fct_invoices'").fetchall()[0][0]  # fmt: skip
    if not found:
        return {"month": None, "orgs": []}
    (month,) = con.execute(
        "select coalesce(max(billing_month) filter (where billing_month < date_trunc('month', current_date)), "
        "max(billing_month)) from marts.fct_invoices"
    ).fetchall()[0]
    if month is None:
        return {"month": None, "orgs": []}
    rows = con.execute(
        """
        with usd as (
            select org_id, sum(list_amount_usd) as usd from marts.fct_monthly_overages
            where billing_month = ? group by org_id
        )
        select i.org_id, i.org_name, i.invoice_number, i.status, i.total_amount, i.currency, coalesce(usd.usd, 0)
        from marts.fct_invoices i left join usd on i.org_id = usd.org_id
        where i.billing_month = ? order by 7 desc, i.total_amount desc, i.org_id limit ?
        """,
        [month, month, limit],
    ).fetchall()
    keys = ("org_id", "org_name", "invoice_number", "status", "total_amount", "currency", "list_amount_usd")
    return {"month": month.isoformat()[:7], "orgs": [dict(zip(keys, row, strict=True)) for row in rows]}


def render(data: dict[str, Any], path: Path, *, query_hint: bool = True) -> str:
    """The summary as text, from what collect() returned (query_hint: how to query the DuckDB file)."""
    units = data.get("minor_units") or {}
    lines = []
    top = data.get("top_orgs_last_month") or {}
    if top.get("orgs"):
        lines += [f"Largest bills for {top['month']} (overages invoice --org ORG --month {top['month']}):",
                  f"  {'org':<14} {'name':<28} {'owes':>16} {'currency':<8} {'status':<6} invoice"]  # fmt: skip
        for org in top["orgs"]:
            owed = money.in_currency(org["total_amount"], org["currency"], units)
            lines.append(f"  {org['org_id']:<14} {(org['org_name'] or '')[:28]:<28} {owed:>16} {org['currency']:<8} "
                         f"{org['status']:<6} {org['invoice_number']}")  # fmt: skip
        lines.append("")
    lines += [
        f"Warehouse {path}",
        f"  {data['orgs']} orgs, {data['billing_months']} billing months "
        f"({data['first_month']} to {data['last_month']})",
        "",
        "Overage by feature and currency (all months):",
        f"  {'feature':<16} {'currency':<8} {'billed org-months':>17} {'amount':>16} {'at USD list':>14}",
    ]
    for row in data["overage_by_feature_and_currency"]:
        lines.append(
            f"  {row['feature']:<16} {row['currency']:<8} {row['billed_org_months']:>17} "
            f"{money.in_currency(row['overage_amount'], row['currency'], units):>16} "
            f"{money.amount(row['list_amount_usd'], 2):>14}"
        )
    raw = data["raw_rows"]
    lines += [
        "",
        f"Raw rows: {raw['landed'] or 0:,} landed = {raw['accepted'] or 0:,} accepted + "
        f"{raw['rejected'] or 0:,} rejected ({'balanced' if raw['balanced'] else 'NOT BALANCED'})",
    ]
    if data["rejected_by_reason"]:
        lines.append("Rejected rows by reason (audit.rejected_rows):")
        for row in data["rejected_by_reason"]:
            lines.append(f"  {row['source_table']:<20} {row['reason']:<28} {row['rows']:>8,}")
    if query_hint:
        lines += [
            "",
            "Query it:",
            f"  .venv/bin/python -c \"import duckdb; duckdb.connect('{path}', read_only=True)"
            ".sql('select * from marts.fct_monthly_overages limit 10').show()\"",
        ]
    return "\n".join(lines)


def json_default(value: Any) -> Any:
    """Decimals as exact strings, dates as ISO text."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
