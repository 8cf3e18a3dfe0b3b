"""The short report a build prints: what the warehouse now holds and how to query it."""

from __future__ import annotations

from pathlib import Path

import duckdb


def render(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    lines: list[str] = []
    orgs, months, first, last = con.execute(
        "select count(distinct org_id), count(distinct billing_month), min(billing_month), max(billing_month) "
        "from marts.fct_monthly_overages"
    ).fetchall()[0]
    lines.append(f"Warehouse {path}")
    lines.append(f"  {orgs} orgs, {months} billing months ({first} to {last})")
    lines.append("")
    lines.append("Overage by feature and currency (all months):")
    rows = con.execute(
        "select feature, billing_currency, count(*) filter (where billed_quantity > 0), "
        "sum(overage_amount), sum(list_amount_usd) "
        "from marts.fct_monthly_overages group by all order by feature, billing_currency"
    ).fetchall()
    lines.append(f"  {'feature':<16} {'currency':<8} {'billed org-months':>17} {'amount':>16} {'at USD list':>14}")
    for feature, currency, billed, amount, usd in rows:
        lines.append(f"  {feature:<16} {currency:<8} {billed:>17} {amount:>16,.2f} {usd:>14,.2f}")
    lines.append("")
    rejected = con.execute(
        "select source_table, reason, count(*) from audit.rejected_rows group by all order by 1, 3 desc"
    ).fetchall()
    balance = con.execute(
        "select sum(rows_landed), sum(rows_accepted), sum(rows_rejected), bool_and(is_balanced) "
        "from audit.raw_reconciliation"
    ).fetchall()[0]
    lines.append(
        f"Raw rows: {balance[0]:,} landed = {balance[1]:,} accepted + {balance[2]:,} rejected"
        f" ({'balanced' if balance[3] else 'NOT BALANCED'})"
    )
    if rejected:
        lines.append("Rejected rows by reason (audit.rejected_rows):")
        for table, reason, count in rejected:
            lines.append(f"  {table:<20} {reason:<28} {count:>8,}")
    lines.append("")
    lines.append("Query it:")
    lines.append(
        f"  .venv/bin/python -c \"import duckdb; duckdb.connect('{path}', read_only=True)"
        ".sql('select * from marts.fct_monthly_overages limit 10').show()\""
    )
    return "\n".join(lines)
