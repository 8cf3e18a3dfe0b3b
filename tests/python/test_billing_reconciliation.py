"""fct_billing_reconciliation on the demo (its deliberate differences, one of each status), and a warehouse
that never landed the optional Genesys billing tables still building."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from conftest import land_raw, query, raw_file, run_cli

STATUSES = {"match", "quantity_differs", "rate_differs", "amount_differs", "only_in_genesys", "only_here"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reconciliation") / "demo.duckdb"
    run_cli("demo", "--orgs", "30", "--months", "3", "--seed", "5", warehouse=path)
    run_cli("build", "--quiet", warehouse=path)
    return path


def test_the_demo_shows_each_status_once_and_matches_elsewhere(demo: Path) -> None:
    counts = dict(query(demo, "select status, count(*) from marts.fct_billing_reconciliation group by 1"))
    assert set(counts) == STATUSES
    assert {s: n for s, n in counts.items() if s != "match"} == dict.fromkeys(STATUSES - {"match"}, 1)
    assert counts["match"] > 50
    # Every match agrees to the minor unit; every difference is the one the demo made.
    assert query(demo, "select count(*) from marts.fct_billing_reconciliation where status = 'match' and ("
                       "usage_difference <> 0 or quantity_difference <> 0 or rate_difference <> 0 "
                       "or charge_difference <> 0 or coalesce(invoiced_difference, 0) <> 0)") == [(0,)]  # fmt: skip
    rows = {r[0]: r[1:] for r in query(demo, """
        select status, feature, usage_difference, quantity_difference, rate_difference, charge_difference,
               genesys_overage_rate = round(unit_price * 1.1, 4), org_id, billed_quantity
        from marts.fct_billing_reconciliation where status <> 'match'""")}  # fmt: skip
    assert rows["quantity_differs"][:4] == ("case_management", Decimal(3), Decimal(3), Decimal(0))
    assert rows["rate_differs"][0] == "ai_tokens" and rows["rate_differs"][5] is True
    assert rows["amount_differs"][1:5] == (Decimal(0), Decimal(0), Decimal(0), Decimal(1))
    assert rows["only_here"][1:5] == (None, None, None, None) and rows["only_here"][7] > 0
    assert rows["only_in_genesys"][6:8] == ("org-billed-elsewhere", None)


def test_the_demo_billing_tables_balance_with_their_faults(demo: Path) -> None:
    balances = dict((t, (landed, accepted, rejected)) for t, landed, accepted, rejected in query(
        demo, "select source_table, rows_landed, rows_accepted, rows_rejected from audit.raw_reconciliation "
              "where source_table like 'genesys%'"))  # fmt: skip
    for table, (landed, accepted, rejected) in balances.items():
        (raw,) = query(raw_file(demo), f"select count(*) from raw.{table}")[0]
        assert landed == raw == accepted + rejected and rejected > 0, table
    assert set(balances) == {"genesys_billing_charges", "genesys_invoice_lines"}
    reasons = set(
        query(demo, "select source_table, reason from audit.rejected_rows where source_table like 'genesys%'")
    )
    assert reasons == {
        ("genesys_billing_charges", "duplicate"),
        ("genesys_billing_charges", "missing_org"),
        ("genesys_invoice_lines", "duplicate"),
        ("genesys_invoice_lines", "unknown_currency"),
    }


def test_a_warehouse_without_the_billing_tables_still_builds(warehouse: Path) -> None:
    land_raw(warehouse, {
        "org_subscriptions": [("org-a", "A", "CX1", "named", "USD", "2026-01-01 00:00:00", "2026-01-01 01:00:00")],
        "cases": [(f"c-{i}", "org-a", "2026-02-03 10:00:00", "2026-02-04 00:00:00") for i in range(151)],
    })  # fmt: skip
    assert query(warehouse, "select count(*) from information_schema.tables "
                            "where table_name like 'genesys%'") == [(0,)]  # fmt: skip
    done = run_cli("build", "--skip-validate", warehouse=warehouse)
    assert "no raw.genesys_billing_charges, raw.genesys_invoice_lines landed" in done.stdout + done.stderr
    assert query(raw_file(warehouse), "select count(*) from raw.genesys_billing_charges") == [(0,)]
    assert query(warehouse, "select count(*) from marts.fct_billing_reconciliation") == [(0,)]
    assert query(warehouse, "select billed_quantity from marts.fct_monthly_overages where feature = "
                            "'case_management' and billing_month = '2026-02-01'") == [(Decimal(1),)]  # fmt: skip
    assert query(warehouse, "select source_table, rows_landed, is_balanced from audit.raw_reconciliation "
                            "where source_table like 'genesys%' order by 1") == [
        ("genesys_billing_charges", 0, True), ("genesys_invoice_lines", 0, True)]  # fmt: skip
