"""`overages report`: the month at a glance, as one self-contained HTML file.

Charts are inline SVG drawn here, so the page needs no network and no script to render. Every piece of
text that comes from data (org names, ids, codes) is HTML-escaped: raw text reaches people here. Control and
bidirectional-override characters in it are shown as visible escapes (`\u202e`), so that a name cannot
reorder or hide the text around it, and a value longer than a cell holds is cut short visibly, the whole of
it in the cell's title.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from overages import money as amounts
from overages.validation.frames import price_consistency

FEATURE_COLOURS = {"wallboard": "#4e79a7", "ai_tokens": "#f28e2b", "case_management": "#59a14f"}
UTILISATION_BUCKETS = [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0), (1.0, 1.25), (1.25, 1.5), (1.5, 2.0),
                       (2.0, None)]  # fmt: skip


# C0 and C1 controls, DEL, and the characters that override or isolate the direction of text (bidi embeddings,
# overrides and isolates, the implicit marks, the Arabic letter mark), plus the line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# Longer values are shown cut short in tables and charts, whole in a title.
CELL_CHARACTERS = 60
LABEL_CHARACTERS = 34


def neutral(value: object) -> str:
    """Text with every control and direction-changing character replaced by a visible escape, e.g. \\u202e."""
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", "" if value is None else str(value))


def esc(value: object) -> str:
    """Text for HTML: neutralised, then escaped (quotes too: values also land in attributes)."""
    return html.escape(neutral(value), quote=True)


def shortened(value: object, limit: int) -> tuple[str, bool]:
    """The neutralised text cut to `limit` characters with an ellipsis, and whether it was cut."""
    text = neutral(value)
    return (text, False) if len(text) <= limit else (text[: limit - 1] + "\u2026", True)


def money(value: Decimal | float | None, places: int = 2) -> str:
    return "" if value is None else f"{value:,.{places}f}"


@dataclass
class Bar:
    label: str
    value: float
    colour: str = "#4e79a7"
    title: str = ""


def bar_chart(bars: list[Bar], *, width: int = 720, unit: str = "", name: str, places: int = 2) -> str:
    """A horizontal bar chart as inline SVG."""
    if not bars:
        return '<p class="empty">Nothing to show.</p>'
    row, label_width, top = 22, 220, 6
    height = top + row * len(bars) + 6
    peak = max(b.value for b in bars) or 1
    usable = width - label_width - 170
    parts = [f'<svg class="chart" data-chart="{esc(name)}" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">']  # fmt: skip
    for index, bar in enumerate(bars):
        y = top + index * row
        length = max(1.0, usable * bar.value / peak) if bar.value else 0
        label, _ = shortened(bar.label, LABEL_CHARACTERS)
        # An SVG <title> is a tooltip and shows as text where SVG is not drawn: cut like a table cell.
        label_tip, _ = shortened(bar.label, CELL_CHARACTERS)
        bar_tip, _ = shortened(bar.title or bar.label, CELL_CHARACTERS)
        parts.append(f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{html.escape(label)}'
                     f"<title>{esc(label_tip)}</title></text>")  # fmt: skip
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="16" fill="{bar.colour}">'
                     f"<title>{esc(bar_tip)}</title></rect>")  # fmt: skip
        figure = f"{esc(money(bar.value, places))} {esc(unit)}"
        parts.append(f'<text x="{label_width + length + 6:.1f}" y="{y + 15}">{figure}</text>')
    parts.append("</svg>")
    return "".join(parts)


def stacked_columns(months: list[str], series: dict[str, list[float]], *, name: str, unit: str) -> str:
    """Columns per month, stacked by series (features), as inline SVG, with a legend."""
    if not months:
        return '<p class="empty">Nothing to show.</p>'
    width, height, left, bottom, top = 720, 260, 70, 30, 10
    totals = [sum(values[i] for values in series.values()) for i in range(len(months))]
    peak = max(totals) or 1
    slot = (width - left - 10) / len(months)
    column = min(60.0, slot * 0.6)
    scale = (height - bottom - top) / peak
    parts = [f'<svg class="chart" data-chart="{esc(name)}" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" stroke="#999"/>',
             f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{esc(money(peak, 0))}</text>',
             f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end">0</text>']  # fmt: skip
    for index, month in enumerate(months):
        x = left + slot * index + (slot - column) / 2
        y = height - bottom
        for key, values in series.items():
            h = values[index] * scale
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{column:.1f}" height="{h:.1f}" '
                         f'fill="{FEATURE_COLOURS.get(key, "#888")}"><title>{esc(key)} {esc(month)}: '
                         f"{esc(money(values[index]))} {esc(unit)}</title></rect>")  # fmt: skip
        parts.append(f'<text x="{x + column / 2:.1f}" y="{height - 10}" text-anchor="middle">{esc(month)}</text>')
    parts.append("</svg>")
    legend = " ".join(f'<span class="swatch" style="background:{FEATURE_COLOURS.get(k, "#888")}"></span>{esc(k)}'
                      for k in series)  # fmt: skip
    return "".join(parts) + f'<p class="legend">{legend}</p>'


def _cell(value: object, numeric: bool) -> str:
    text, cut = shortened(value, CELL_CHARACTERS)
    title = f' title="{esc(value)}"' if cut else ""
    return f"<td{' class=num' if numeric else ''}{title}>{html.escape(text, quote=True)}</td>"


def table(headers: list[str], rows: list[list[object]], *, numeric_from: int = 99) -> str:
    if not rows:
        return '<p class="empty">None.</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v, i >= numeric_from) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(con: duckdb.DuckDBPyConnection, month: date | None = None) -> str:
    """The report's HTML for `month` (default: the latest billing month)."""
    latest = con.execute("select max(billing_month) from marts.fct_monthly_overages").fetchall()[0][0]
    chosen = month or latest
    if chosen is None:
        return _page("no data", "<p>The marts are empty: land raw data and build first.</p>", "")
    sections = []
    units = amounts.minor_units(con)
    counted = amounts.counted_features(con)

    def in_currency(value: Decimal | None, currency: str) -> str:
        return amounts.in_currency(value, currency, units)

    def count(value: Decimal | None, feature: str) -> str:
        return amounts.quantity(value, counted=feature in counted)

    # 1. Overage over the months, at the USD list price (comparable), and in each billing currency.
    rows = con.execute("select billing_month, feature, sum(list_amount_usd) from marts.fct_monthly_overages "
                       "group by all order by 1, 2").fetchall()  # fmt: skip
    months = sorted({m.isoformat()[:7] for m, _, _ in rows})
    series: dict[str, list[float]] = {f: [0.0] * len(months) for f in FEATURE_COLOURS}
    for m, feature, amount in rows:
        series.setdefault(feature, [0.0] * len(months))[months.index(m.isoformat()[:7])] = float(amount or 0)
    by_currency = con.execute(
        "select strftime(billing_month, '%Y-%m'), billing_currency, feature, sum(overage_amount) "
        "from marts.fct_monthly_overages group by all"
    ).fetchall()
    pivot: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    for m, currency, feature, amount in by_currency:
        pivot[(currency, feature)][m] = amount
    shown_months = months[-6:]
    pivot_rows = [[currency, feature, *[in_currency(cells.get(m), currency) for m in shown_months]]
                  for (currency, feature), cells in sorted(pivot.items()) if any(cells.values())]  # fmt: skip
    sections.append(("Overage by feature over the months",
                     "<p>At the USD list price (list_amount_usd), so that currencies compare; then each currency's "
                     "own amounts.</p>" + stacked_columns(months, series, name="overage-by-month", unit="USD")
                     + table(["currency", "feature", *shown_months], pivot_rows, numeric_from=2)))  # fmt: skip

    # 2. Allocation utilisation distribution per feature in the chosen month.
    utilisation = con.execute(
        "select feature, usage_quantity / free_allocation from marts.fct_monthly_overages "
        "where billing_month = ? and free_allocation > 0", [chosen]).fetchall()  # fmt: skip
    charts = []
    for feature in FEATURE_COLOURS:
        counts = defaultdict(int)
        for f, ratio in utilisation:
            if f != feature:
                continue
            for low, high in UTILISATION_BUCKETS:
                if ratio >= low and (high is None or ratio < high):
                    counts[(low, high)] += 1
                    break
        bars = [Bar(f"{int(low * 100)}%" + (f"-{int(high * 100)}%" if high else "+"), counts[(low, high)],
                    FEATURE_COLOURS[feature]) for low, high in UTILISATION_BUCKETS]  # fmt: skip
        chart = bar_chart(bars, name=f"utilisation-{feature}", unit="orgs", places=0)
        charts.append(f"<h3>{esc(feature)}</h3>{chart}")
    sections.append((f"Allocation utilisation, {chosen:%Y-%m}", "".join(charts)))

    # 3. Top orgs by overage in the chosen month: one row per org (its features added up), ranked at the USD list
    # price; a name two orgs share carries the org id beside it.
    top = con.execute(
        "with orgs as (select o.org_id, max(d.org_name) as org_name, max(o.billing_currency) as currency, "
        "string_agg(o.feature, ', ' order by o.feature) filter (where o.billed_quantity > 0) as features, "
        "sum(o.overage_amount) as amount, sum(o.list_amount_usd) as usd "
        "from marts.fct_monthly_overages o left join marts.dim_orgs d on o.org_id = d.org_id "
        "where o.billing_month = ? group by o.org_id having sum(o.list_amount_usd) > 0) "
        "select org_id, org_name, count(*) over (partition by org_name) > 1, features, amount, currency, usd "
        "from orgs order by usd desc, org_id limit 15",
        [chosen]).fetchall()  # fmt: skip

    def label(org: str, name: str | None, shared: bool) -> str:
        return f"{name} ({org})" if name and shared else name or org

    bars = [Bar(label(org, name, shared), float(usd), "#4e79a7", title=f"{org}: {features}")
            for org, name, shared, features, *_, usd in top[:10]]  # fmt: skip
    sections.append((f"Top orgs by overage, {chosen:%Y-%m}",
                     bar_chart(bars, name="top-orgs", unit="USD at list")
                     + table(["org", "name", "features billed", "amount", "currency", "USD at list"],
                             [[o, label(o, n, shared), f, in_currency(m, c), c, amounts.amount(usd, 2)]
                              for o, n, shared, f, m, c, usd in top], numeric_from=3)))  # fmt: skip

    # 4. The projected-overage alert list for the month in progress.
    alerts = con.execute(
        "select p.org_id, d.org_name, p.feature, p.usage_so_far, p.free_allocation, p.projected_usage, "
        "p.projected_overage_amount, p.billing_currency, p.is_new_alert, p.as_of "
        "from marts.fct_month_to_date_projections p left join marts.dim_orgs d on p.org_id = d.org_id "
        "where p.is_alert order by p.is_new_alert desc, p.projected_usage / p.free_allocation "
        "desc, p.org_id limit 50").fetchall()  # fmt: skip
    as_of = alerts[0][-1] if alerts else None
    sections.append(("Projected to exceed an allocation this month",
                     (f"<p>Month to date as of {esc(as_of)}; run-rate projection (see fct_month_to_date_projections)."
                      " New alerts are still within the allocation so far.</p>" if as_of else "")
                     + table(["org", "name", "feature", "so far", "allocation", "projected", "projected amount",
                              "currency", "new alert"],
                             [[o, n, f, count(s, f), count(a, f), count(p, f), in_currency(m, c), c,
                               "yes" if new else ""]
                              for o, n, f, s, a, p, m, c, new, _ in alerts], numeric_from=3)))  # fmt: skip

    # 5. Rejected rows by reason.
    rejected = con.execute("select source_table, reason, count(*) from audit.rejected_rows group by all "
                           "order by 3 desc, 1, 2").fetchall()  # fmt: skip
    sections.append(
        (
            "Rejected raw rows by reason",
            bar_chart([Bar(f"{t}: {r}", n, "#e15759") for t, r, n in rejected], name="rejected", unit="rows", places=0),
        )
    )

    # 6. Price-list consistency findings.
    prices = price_consistency(con)
    departing = prices[~prices.is_consistent]
    sections.append(("Price-list consistency",
                     "<p>Each currency's price over the USD price should be one rate across the three features. "
                     "Figures that depart are kept as published and listed here.</p>"
                     + table(["feature", "currency", "price", "USD price", "ratio to USD", "rate the others imply"],
                             [[r.feature, r.currency, r.unit_price, r.usd_unit_price, r.ratio_to_usd,
                               r.rate_implied_by_others] for r in departing.itertuples()],
                             numeric_from=2)))  # fmt: skip

    # 7. Reconciliation with what Genesys bills (fct_billing_reconciliation), all months.
    sections.append(("Reconciliation with Genesys's billing", _reconciliation(con)))

    body = "".join(f"<section><h2>{esc(title)}</h2>{content}</section>" for title, content in sections)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return _page(f"{chosen:%Y-%m}", body, generated)


STYLE = """
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:980px;color:#222}
h1{font-size:22px;margin-bottom:2px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
h3{font-size:14px;margin:10px 0 2px}.meta{color:#666}svg text{font-size:11px;fill:#333}
table{border-collapse:collapse;margin:8px 0;font-size:12px;max-width:100%}th,td{border-bottom:1px solid #eee;
padding:3px 8px;text-align:left;max-width:22em;overflow-wrap:anywhere;unicode-bidi:isolate}
td.num{text-align:right;font-variant-numeric:tabular-nums}.empty{color:#888}
.legend{font-size:12px}.swatch{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
"""


def _reconciliation(con: duckdb.DuckDBPyConnection) -> str:
    """Status counts and the rows that differ, largest amount difference first."""
    found = con.execute("select count(*) from information_schema.tables where table_schema = 'marts' "
                        "and table_name = 'fct_billing_reconciliation'").fetchall()[0][0]  # fmt: skip
    if not found:
        return '<p class="empty">Not built yet.</p>'
    counts = con.execute("select status, count(*) from marts.fct_billing_reconciliation group by 1 "
                         "order by 2 desc, 1").fetchall()  # fmt: skip
    if not counts:
        return ('<p class="empty">No Genesys billing data landed (overages extract genesys lands its charges and '
                "invoice lines).</p>")  # fmt: skip
    differing = con.execute(
        "select org_id, strftime(billing_month, '%Y-%m'), feature, status, billed_quantity, "
        "genesys_overage_quantity, unit_price, genesys_overage_rate, amount, genesys_overage_charge, "
        "invoiced_amount, currency from marts.fct_billing_reconciliation where status <> 'match' "
        "order by abs(coalesce(charge_difference, invoiced_difference, genesys_overage_charge, amount, 0)) desc, "
        "org_id, billing_month, feature limit 50").fetchall()  # fmt: skip
    summary = ", ".join(f"{status}: {count:,}" for status, count in counts)
    units, counted = amounts.minor_units(con), amounts.counted_features(con)

    def quantity(value: Decimal | None, feature: str) -> str:
        return amounts.quantity(value, counted=feature in counted)

    def in_currency(value: Decimal | None, currency: str) -> str:
        return amounts.in_currency(value, currency, units)

    # Quantities as counted (a whole case), prices to four places as published, amounts in their minor unit.
    rows = [[o, m, f, st, quantity(b, f), quantity(gb, f), money(p, 4), money(r, 4), in_currency(a, c),
             in_currency(gc, c), in_currency(i, c), c]
            for o, m, f, st, b, gb, p, r, a, gc, i, c in differing]  # fmt: skip
    return (f"<p>Our figures beside Genesys's billing-period charges and invoice lines, compared to the "
            f"currency's minor unit ({esc(summary)}).</p>"
            + table(["org", "month", "feature", "status", "our billed", "Genesys billed", "our price",
                     "Genesys rate", "our amount", "Genesys charge", "invoiced", "currency"], rows,
                    numeric_from=4))  # fmt: skip


def _page(month_label: str, body: str, generated: str) -> str:
    # No script may run (a defence in depth beside the escaping) and nothing is fetched from anywhere.
    policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Overages, {esc(month_label)}</title>'
            f'<meta http-equiv="Content-Security-Policy" content="{policy}"><style>{STYLE}</style></head><body>'
            f"<h1>Genesys Cloud overages, {esc(month_label)}</h1>"
            f'<p class="meta">Generated {esc(generated)} from the overages warehouse.</p>'
            f"{body}</body></html>")  # fmt: skip


def write(con: duckdb.DuckDBPyConnection, target: Path, month: date | None = None) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(con, month), encoding="utf-8")
    return target
