"""The semantic layer: each metric, queried with MetricFlow's `mf query`, equals the figure from the mart."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT_DIR, query, run_cli

BIN = Path(sys.executable).parent
FEATURE = "org_month_feature__feature"


def by_mart(key: str, figure: str) -> str:
    """The same figure computed from the mart, per billing month and `key`."""
    return f"select billing_month, {key}, {figure} from marts.fct_monthly_overages group by all"


# metric -> (what mf groups it by besides the month, the same figure from the mart)
METRICS = {
    "overage_amount": ("org_month_feature__billing_currency", by_mart("billing_currency", "sum(overage_amount)")),
    "list_amount_usd": (FEATURE, by_mart("feature", "sum(list_amount_usd)")),
    "usage": (FEATURE, by_mart("feature", "sum(usage_quantity)")),
    "free_allocation": (FEATURE, by_mart("feature", "sum(free_allocation)")),
    "billed_quantity": (FEATURE, by_mart("feature", "sum(billed_quantity)")),
    "allocation_utilisation": (FEATURE, by_mart("feature", "sum(usage_quantity) / sum(free_allocation)")),
    "invoiced_amount": (
        "invoice__currency",
        "select billing_month, currency, sum(total_amount) from marts.fct_invoices group by all",
    ),
    "orgs_over_allocation": (
        FEATURE,
        by_mart("feature", "count(distinct case when overage_quantity > 0 then org_id end)"),
    ),
}


@pytest.fixture(scope="module")
def warehouse_with_manifest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("metrics") / "w.duckdb"
    run_cli("demo", "--orgs", "25", "--months", "2", "--seed", "31", warehouse=path)
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    # As docs/bi.md says: MetricFlow reads the published file, read-only (attached under its own name).
    env = {**os.environ, "WAREHOUSE_PATH": str(path), "DBT_PROFILES_DIR": str(PROJECT_DIR), "DO_NOT_TRACK": "1",
           "DBT_TARGET": "duckdb_read_only", "WAREHOUSE_DATABASE": path.stem}  # fmt: skip
    parsed = subprocess.run([str(BIN / "dbt"), "parse", "--quiet"], cwd=PROJECT_DIR, env=env, capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    return path, env


@pytest.mark.parametrize("metric", list(METRICS))
def test_metric_equals_the_mart(metric: str, warehouse_with_manifest: tuple[Path, dict[str, str]],
                                tmp_path: Path) -> None:  # fmt: skip
    path, env = warehouse_with_manifest
    group_by, sql = METRICS[metric]
    out = tmp_path / f"{metric}.csv"
    done = subprocess.run(
        [str(BIN / "mf"), "query", "--metrics", metric, "--group-by", f"metric_time__month,{group_by}", "--csv",
         str(out)], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0 and out.exists(), done.stdout + done.stderr
    with out.open(newline="") as handle:
        got = {(r["metric_time__month"][:10], r[group_by]): float(r[metric] or 0) for r in csv.DictReader(handle)}
    expected = {(m.isoformat(), k): float(v or 0) for m, k, v in query(path, sql)}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-6), (metric, key)
    assert any(value for value in expected.values())
