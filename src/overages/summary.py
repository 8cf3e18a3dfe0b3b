"""The short report a build prints: what the warehouse now holds and how to query it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb


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
        "orgs": orgs,
        "billing_months": months,
        "first_month": first.isoformat() if first else None,
        "last_month": last.isoformat() if last else None,
        "overage_by_feature_and_currency": overage,
        "raw_rows": {"landed": landed, "accepted": accepted, "rejected": rejected_total, "balanced": balanced},
        "rejected_by_reason": rejected,
    }


def render(data: dict[str, Any], path: Path, *, query_hint: bool = True) -> str:
    """The summary as text, from what collect() returned (query_hint: how to query the DuckDB file)."""
    lines = [
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
            f"{row['overage_amount']:>16,.2f} {row['list_amount_usd']:>14,.2f}"
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
