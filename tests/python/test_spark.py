"""The same warehouse on Spark: one data set, landed on DuckDB and on Spark (local mode), built on both, and the
marts compared row for row, decimals to the last digit, after a full build and after an incremental one.

The data set is the hand-made rule fixture of test_rules_fixture.py plus a demo sample over the same months.
The second batch re-sends demo rows (ids seen before, so winners move), adds a new month and late rows for old
months, and a subscription row that changes a past month's licence type; it is landed later than anything
built, so both engines build it incrementally.

Spark runs in subprocesses only (the `overages` command and dbt), one at a time: its Derby metastore admits
one process. Run by `make test` after the DuckDB tests (pytest -m spark).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import PROJECT_DIR, export_raw, land_raw, query, raw_file, run_cli
from overages import demo
from overages.raw_contract import ALL_RAW_TABLES as RAW_TABLES
from overages.raw_contract import RAW_TABLES as REQUIRED_RAW_TABLES
from test_rules_fixture import RAW as RULES_RAW

pytestmark = pytest.mark.spark

# The relations compared between the engines, with the columns that key them.
COMPARED = {
    "fct_monthly_overages": ("org_id", "billing_month", "feature"),
    "fct_invoice_lines": ("org_id", "billing_month", "feature"),
    "fct_invoices": ("org_id", "billing_month"),
    "rejected_rows": ("source_table", "record_id", "reason", "org_id", "_loaded_at"),
    "focus_charges": ("BillingAccountId", "ChargePeriodStart", "SkuPriceId"),
    "dim_orgs": ("org_id",),
    "dim_org_months": ("org_id", "billing_month"),
    "fct_month_to_date_projections": ("org_id", "billing_month", "feature"),
}


def _append(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    con = duckdb.connect(str(raw_file(path)))
    try:
        for name, frame in tables.items():
            if name not in REQUIRED_RAW_TABLES:
                # The demo's Genesys bills (optional tables) are left out: this comparison covers the six
                # contract tables, as it did before the demo landed bills.
                continue
            columns = ", ".join(c.name for c in RAW_TABLES[name])
            con.register("batch", frame)
            con.execute(f"insert into raw.{name} ({columns}) select {columns} from batch")
            con.unregister("batch")
    finally:
        con.close()


def _second_batch() -> dict[str, pd.DataFrame]:
    """Demo rows with another seed over the last two months (ids shared with the first batch: corrections),
    all landed after the first batch, plus a subscription row that changes org-00002's past licence type."""
    tables = demo.generate(orgs=8, months=2, seed=23, end_month="2026-04").tables
    landed = pd.Timestamp("2026-06-01")
    for frame in tables.values():
        frame["_loaded_at"] = landed + pd.to_timedelta(range(len(frame)), unit="s")
    tables["org_subscriptions"] = pd.concat([
        tables["org_subscriptions"],
        pd.DataFrame([{
            "org_id": "org-00002", "org_name": "Changed Type", "license_tier": "CX3", "license_type": "concurrent",
            "billing_currency": "USD", "effective_from": pd.Timestamp("2026-02-10"),
            "_loaded_at": pd.Timestamp("2026-06-02"),
        }]),
    ], ignore_index=True)  # fmt: skip
    return tables


@pytest.fixture(scope="module")
def spark_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("engines")
    home = base / "spark"
    os.environ["OVERAGES_SPARK_HOME"] = str(home)  # read by every run_cli below (restored at the end)
    paths = {"base": base, "duckdb": base / "warehouse.duckdb", "home": home}
    yield paths
    os.environ.pop("OVERAGES_SPARK_HOME", None)


def _build_both(paths: dict[str, Path], batch: str) -> dict[str, object]:
    """Land the DuckDB warehouse's raw tables on Spark, build both, export both; returns Spark's build JSON."""
    folder = export_raw(paths["duckdb"], paths["base"] / f"raw-{batch}")
    run_cli("land", "--target", "spark", str(folder))
    run_cli("build", "--skip-validate", "--quiet", warehouse=paths["duckdb"])
    done = run_cli("build", "--target", "spark", "--json")
    run_cli("export", "--format", "parquet", str(paths["base"] / f"duckdb-{batch}"), warehouse=paths["duckdb"])
    run_cli("export", "--target", "spark", "--format", "parquet", str(paths["base"] / f"spark-{batch}"))
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def first_batch(spark_env: dict[str, Path]) -> dict[str, object]:
    land_raw(spark_env["duckdb"], RULES_RAW)
    _append(spark_env["duckdb"], demo.generate(orgs=12, months=4, seed=5, end_month="2026-03").tables)
    return _build_both(spark_env, "first")


@pytest.fixture(scope="module")
def second_batch(spark_env: dict[str, Path], first_batch: dict[str, object]) -> dict[str, object]:
    _append(spark_env["duckdb"], _second_batch())
    return _build_both(spark_env, "second")


def _read(folder: Path, name: str) -> tuple[list[tuple[str, str]], list[tuple]]:
    con = duckdb.connect()
    try:
        relation = f"read_parquet('{folder / f'{name}.parquet'}')"
        types = [(row[0], row[1]) for row in con.execute(f"describe select * from {relation}").fetchall()]
        order = ", ".join(f'"{c}"' for c in [*COMPARED[name], *(c for c, _ in types if c not in COMPARED[name])])
        rows = con.execute(f"select * from {relation} order by {order}").fetchall()
        return types, rows
    finally:
        con.close()


def _differences(paths: dict[str, Path], batch: str, name: str) -> tuple[int, list[str]]:
    duck_types, duck_rows = _read(paths["base"] / f"duckdb-{batch}", name)
    spark_types, spark_rows = _read(paths["base"] / f"spark-{batch}", name)
    problems = []
    if duck_types != spark_types:
        problems.append(f"column types differ: duckdb {duck_types} / spark {spark_types}")
    if len(duck_rows) != len(spark_rows):
        problems.append(f"{len(duck_rows)} rows on duckdb, {len(spark_rows)} on spark")
    for duck_row, spark_row in zip(duck_rows, spark_rows, strict=False):
        # Decimals compare by their text too, so 1.50 and 1.5000 differ as the marts' readers would see them.
        if duck_row != spark_row or [str(v) for v in duck_row] != [str(v) for v in spark_row]:
            problems.append(f"first differing row: duckdb {duck_row} / spark {spark_row}")
            break
    return len(duck_rows), problems


@pytest.mark.parametrize("name", list(COMPARED))
def test_same_rows_on_both_engines(spark_env: dict[str, Path], first_batch: dict[str, object], name: str) -> None:
    rows, problems = _differences(spark_env, "first", name)
    assert not problems, f"{name}: {problems}"
    assert rows > 0


def test_first_spark_build_is_validated_and_balanced(first_batch: dict[str, object]) -> None:
    validation = first_batch["validation"]
    assert validation is not None and validation["success"], validation
    assert first_batch["summary"]["raw_rows"]["balanced"] is True
    assert first_batch["summary"]["raw_rows"]["landed"] == sum(first_batch["raw_rows"].values())


def test_every_rejection_reason_reaches_spark(spark_env: dict[str, Path], first_batch: dict[str, object]) -> None:
    _, rows = _read(spark_env["base"] / "spark-first", "rejected_rows")
    reasons = {row[3] for row in rows}
    # Every reason the landed data holds (the rules fixture's and the demo's, no_reference_data included).
    assert len(reasons) == 14, sorted(reasons)


@pytest.mark.parametrize("name", list(COMPARED))
def test_same_rows_after_an_incremental_build(
    spark_env: dict[str, Path], second_batch: dict[str, object], name: str
) -> None:
    rows, problems = _differences(spark_env, "second", name)
    assert not problems, f"{name}: {problems}"
    assert rows > 0


def test_second_spark_build_was_incremental_and_saw_the_batch(second_batch: dict[str, object]) -> None:
    assert second_batch["full_refresh"] is False
    assert second_batch["summary"]["last_month"] == "2026-04-01"
    assert second_batch["summary"]["raw_rows"]["balanced"] is True


def test_a_spark_build_publishes_a_snapshot_of_what_passed(
    spark_env: dict[str, Path], second_batch: dict[str, object]
) -> None:
    published = spark_env["home"] / "overages.duckdb"
    assert second_batch["published"]["path"] == str(published)
    totals = "select count(*), sum(overage_amount), sum(billed_quantity) from "
    exported = spark_env["base"] / "spark-second" / "fct_monthly_overages.parquet"
    assert query(published, totals + "marts.fct_monthly_overages") == query(
        published, totals + f"read_parquet('{exported}')"
    )
    assert query(published, "select build_id, checkpoint from audit.snapshot") == [
        (second_batch["published"]["build_id"], "passed")
    ]


def test_incremental_spark_build_equals_a_full_refresh(
    spark_env: dict[str, Path], second_batch: dict[str, object]
) -> None:
    # Validated (a few seconds more): the close test that follows needs a validated last build on Spark.
    run_cli("build", "--target", "spark", "--full-refresh", "--quiet")
    run_cli("export", "--target", "spark", "--format", "parquet", str(spark_env["base"] / "spark-refreshed"))
    for name in COMPARED:
        assert _read(spark_env["base"] / "spark-second", name) == _read(spark_env["base"] / "spark-refreshed", name)


def test_dbt_unit_tests_pass_on_spark(spark_env: dict[str, Path], first_batch: dict[str, object]) -> None:
    dbt = str(Path(sys.executable).with_name("dbt"))
    done = subprocess.run(
        [dbt, "test", "--select", "test_type:unit", "--target", "spark", "--project-dir", str(PROJECT_DIR),
         "--profiles-dir", str(PROJECT_DIR), "--target-path", str(spark_env["base"] / "dbt-target")],
        cwd=PROJECT_DIR, env={**os.environ, "DO_NOT_TRACK": "1"}, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:]
    summary = [line for line in done.stdout.splitlines() if "Done. PASS=" in line]
    counts = dict(item.split("=") for item in summary[-1].split("Done. ")[1].split())
    assert int(counts["PASS"]) == int(counts["TOTAL"]) >= 18, summary[-1]  # every unit test of the project
    assert int(counts.get("ERROR", 0)) == 0 and int(counts.get("FAIL", 0)) == 0, summary[-1]


def test_a_second_spark_process_is_refused_while_one_builds(spark_env: dict[str, Path]) -> None:
    from overages import runs

    with runs.build_lock(spark_env["home"]):
        done = run_cli("build", "--target", "spark", check=False)
    assert done.returncode == 75
    assert "is being built" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_demo_lands_on_spark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERAGES_SPARK_HOME", str(tmp_path / "demo-home"))
    done = run_cli("demo", "--target", "spark", "--orgs", "3", "--months", "1", "--seed", "4")
    # The counts printed are counted back from the Spark tables once landed.
    printed = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in done.stdout.splitlines()[1:]}
    expected = demo.generate(orgs=3, months=1, seed=4).row_counts()
    assert printed == {f"raw.{table}": count for table, count in expected.items()}
    assert (tmp_path / "demo-home" / "metastore_db").is_dir()


def test_landing_a_folder_without_a_table_is_one_line(spark_env: dict[str, Path], tmp_path: Path) -> None:
    folder = export_raw(spark_env["duckdb"], tmp_path / "partial") if spark_env["duckdb"].exists() else tmp_path
    (folder / "cases.parquet").unlink(missing_ok=True)
    done = run_cli("land", "--target", "spark", str(folder), check=False)
    assert done.returncode != 0
    assert "cases.parquet is missing" in done.stderr and "Traceback" not in done.stderr


def _invoices(published: Path) -> dict[str, list[tuple]]:
    """The invoices and their lines in a published snapshot, without when and by which build each engine issued
    them."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        found = {}
        for name in ("fct_invoices", "fct_invoice_lines"):
            columns = [row[0] for row in con.execute(f"describe marts.{name}").fetchall()
                       if row[0] not in ("issued_at", "issued_by_build_id")]  # fmt: skip
            found[name] = con.execute(f"select {', '.join(columns)} from marts.{name} order by all").fetchall()
        return found
    finally:
        con.close()


def test_closing_and_reopening_a_month_on_spark_matches_duckdb(
    spark_env: dict[str, Path], second_batch: dict[str, object]
) -> None:
    duck, base = spark_env["duckdb"], spark_env["base"]
    published = spark_env["home"] / "overages.duckdb"
    # A close needs a validated last build on each engine (on Spark, the second batch's or the full refresh's).
    run_cli("build", "--quiet", warehouse=duck)
    # Usage for March landed after those builds: closing issues March as it stood, the builds that follow the
    # close carry the difference as adjustments on the next open month.
    org, before = query(duck, "select org_id, usage_quantity from marts.fct_monthly_overages where feature = "
                              "'ai_tokens' and billing_month = date '2026-03-01' and overage_amount > 0 "
                              "order by org_id limit 1")[0]  # fmt: skip
    con = duckdb.connect(str(raw_file(duck)))
    con.execute("insert into raw.ai_token_events values ('late-march', ?, timestamp '2026-03-20 09:00:00', 1000, "
                "'copilot', timestamp '2026-06-05 00:00:00')", [org])  # fmt: skip
    con.close()
    run_cli("land", "--target", "spark", str(export_raw(duck, base / "raw-late")))

    run_cli("close", "--month", "2026-03", "--quiet", warehouse=duck)
    closed = run_cli("close", "--target", "spark", "--month", "2026-03", "--quiet")
    assert "Closed 2026-03:" in closed.stdout and "Rebuilt the marts on Spark (published)." in closed.stdout
    on_spark = _invoices(published)
    assert on_spark == _invoices(duck)
    statuses = {(row[3], row[5]) for row in on_spark["fct_invoices"]}  # billing_month, status
    assert (dt.date(2026, 3, 1), "final") in statuses and (dt.date(2026, 3, 1), "draft") not in statuses
    adjustments = query(
        published,
        "select sum(amount), count(*) from marts.fct_invoice_lines where line_type = "
        f"'adjustment' and org_id = '{org}' and adjusted_billing_month = date '2026-03-01'",
    )
    computed = query(published, "select usage_quantity from marts.fct_monthly_overages where feature = 'ai_tokens' "
                                f"and org_id = '{org}' and billing_month = date '2026-03-01'")  # fmt: skip
    assert computed == [(before + 1000,)]
    assert adjustments[0][1] >= 1 and adjustments[0][0] > 0  # 1,000 more tokens billed after the close

    # A reason as a user may type it: quotes and backslashes reach both tables as typed.
    reason = "customer's dispute, see C:\\disputes\\ and ''notes''\\"
    run_cli("reopen", "--month", "2026-03", "--reason", reason, "--quiet", warehouse=duck)
    reopened = run_cli("reopen", "--target", "spark", "--month", "2026-03", "--reason", reason, "--quiet")
    assert "Re-opened 2026-03" in reopened.stdout
    assert query(raw_file(duck), "select reason from audit.month_close_events where action = 'reopen'") == [(reason,)]
    read_back = subprocess.run(
        [sys.executable, "-c", "from overages import spark; print(repr([r[0] for r in spark.session().sql("
         "\"select reason from audit.month_close_events where action = 'reopen'\").collect()]))"],
        cwd=PROJECT_DIR, env={**os.environ, "DO_NOT_TRACK": "1"}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert read_back.returncode == 0, read_back.stderr[-2000:]
    assert read_back.stdout.strip().splitlines()[-1] == repr([reason])
    on_spark = _invoices(published)
    assert on_spark == _invoices(duck)
    assert {row[5] for row in on_spark["fct_invoices"] if row[3] == dt.date(2026, 3, 1)} == {"draft"}
    assert query(published, "select count(*) from marts.fct_invoice_lines where line_type = 'adjustment'") == [(0,)]
    assert query(published, "select count(*) from audit.closed_billing_months") == [(0,)]
