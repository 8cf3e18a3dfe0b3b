"""The report: one self-contained HTML file that renders in a real browser, safe with hostile text."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import raw_file, run_cli

HOSTILE = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("x")'
# A name that reverses the text after it, hides a mark and rings a bell; an id of 10,000 characters.
BIDI = "Acme\u202egnp.exe\u2066\u200f\x07 Ltd\x85"
LONG_ID = "org-" + "long" * 2499
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND"]  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    path = folder / "w.duckdb"
    run_cli("demo", "--orgs", "30", "--months", "3", "--seed", "17", warehouse=path)
    con_rows = {"org_subscriptions": [
        ("org-hostile", HOSTILE, "CX1", "named", "USD", "2026-08-01 00:00:00", "2026-08-01 00:00:00"),
        ("org-formula", FORMULA, "CX1", "named", "EUR", "2026-08-01 00:00:00", "2026-08-01 00:00:00"),
        ("org-bidi", BIDI, "CX1", "named", "USD", "2026-08-01 00:00:00", "2026-08-01 00:00:00"),
        (LONG_ID, "Long Id Inc", "CX1", "named", "USD", "2026-08-01 00:00:00", "2026-08-01 00:00:00"),
    ], "cases": [(f"{org[:20]}-case-{i}", org, "2026-10-02 00:00:00", "2026-10-03 00:00:00")
                 for org in ("org-hostile", "org-formula", "org-bidi", LONG_ID) for i in range(4000)]}  # fmt: skip
    import duckdb

    con = duckdb.connect(str(raw_file(path)))
    for table, rows in con_rows.items():
        for row in rows:
            con.execute(f"insert into raw.{table} values ({', '.join('?' for _ in row)})", list(row))
    con.close()
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    before = path.stat().st_mtime_ns
    target = folder / "report.html"
    done = run_cli("report", "--month", "2026-10", "--output", str(target), warehouse=path)
    assert path.stat().st_mtime_ns == before  # read-only
    assert f"Report: {target}" in done.stdout
    return target


def test_report_is_self_contained_and_escapes_hostile_text(report: Path) -> None:
    page = report.read_text()
    assert "<script" not in page.replace("&lt;script", "")  # no script element at all
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "=HYPERLINK(&quot;x&quot;)" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from anywhere
    assert "default-src 'none'" in page
    for section in ("Overage by feature over the months", "Allocation utilisation, 2026-10",
                    "Top orgs by overage, 2026-10", "Projected to exceed an allocation this month",
                    "Rejected raw rows by reason", "Price-list consistency"):  # fmt: skip
        assert section in page
    # The published price-list departure is listed.
    assert re.search(r"<td>case_management</td><td>BRL</td><td class=num>0.1600</td>", page)


def test_report_neutralises_control_characters_and_long_values(report: Path) -> None:
    page = report.read_text()
    # No control or direction-changing character reaches the page; each shows as a visible escape.
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", page)
    assert "Acme\\u202egnp.exe\\u2066\\u200f\\u0007 Ltd\\u0085" in page
    # The 10,000-character id is whole only in title attributes; the cells and labels show it cut short.
    assert f'title="{LONG_ID}"' in page
    shown = re.findall(r">(org-(?:long)+[^<]*)<", page)
    assert shown and all(len(text) <= 60 and text.endswith("\u2026") for text in shown), [len(t) for t in shown]
    assert "overflow-wrap:anywhere" in page and "max-width:22em" in page


def test_report_renders_in_a_headless_browser(report: Path, tmp_path: Path) -> None:
    assert CHROMIUM, "chromium is needed for this test: make test installs it (apt-get install chromium)"
    dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          report.as_uri()], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    charts = set(re.findall(r'data-chart="([^"]+)"', dom.stdout))
    assert charts >= {"overage-by-month", "utilisation-wallboard", "utilisation-ai_tokens",
                      "utilisation-case_management", "top-orgs", "rejected"}  # fmt: skip
    assert len(re.findall(r"<rect ", dom.stdout)) > 30
    # The hostile org name is text in the page, not an element.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom.stdout
    assert "<script>alert(1)</script>" not in dom.stdout
    shot = tmp_path / "report.png"
    done = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
                           "--window-size=1100,1600", f"--screenshot={shot}", report.as_uri()],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and shot.exists() and shot.stat().st_size > 20_000, done.stderr[-2000:]


def test_reconciliation_amounts_are_in_their_currency_minor_unit(report: Path) -> None:
    page = report.read_text()
    section = page.split("Reconciliation with Genesys&#x27;s billing")[-1].split("<h2")[0]
    rows = [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", section)]  # fmt: skip
    rows = [r for r in rows if len(r) == 12]
    assert rows, section[:500]
    for org, _, feature, _, billed, genesys_billed, _, _, amount, charge, invoiced, currency in rows:
        places = 0 if currency == "JPY" else 2
        for value in (amount, charge, invoiced):
            assert not value or len(value.rpartition(".")[2] if "." in value else "") == places, (org, value)
        if feature in ("case_management", "wallboard"):  # counted in whole items
            assert "." not in billed and "." not in genesys_billed, (org, billed, genesys_billed)
