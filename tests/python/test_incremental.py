"""Incremental builds: after any sequence of landings, the marts equal a full refresh on the same raw data,
and a build rewrites only the months that the newly landed rows touch."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from conftest import build_file, copy_warehouse, query, raw_file, run_cli

MARTS = ("marts.fct_monthly_overages", "marts.fct_invoice_lines", "marts.dim_orgs", "marts.dim_org_months",
         "audit.rejected_rows", "audit.raw_reconciliation")  # fmt: skip


def snapshot(path: Path) -> dict[str, list[tuple]]:
    return {name: query(path, f"select * from {name} order by all") for name in MARTS}


def append(path: Path, table: str, rows: list[tuple]) -> None:
    con = duckdb.connect(str(raw_file(path)))
    try:
        placeholders = ", ".join("?" for _ in rows[0])
        con.executemany(f"insert into raw.{table} values ({placeholders})", [list(r) for r in rows])
    finally:
        con.close()


def assert_equals_full_refresh(path: Path, tmp_path: Path, label: str) -> dict[str, list[tuple]]:
    incremental = snapshot(path)
    copy = tmp_path / f"full-{label}.duckdb"
    copy_warehouse(path, copy)
    run_cli("build", "--full-refresh", "--skip-validate", warehouse=copy)
    full = snapshot(copy)
    for name in MARTS:
        assert incremental[name] == full[name], f"{label}: {name} differs from a full refresh"
    return incremental


def batch_months(path: Path, table: str) -> dict[str, int]:
    """Months of a validated table by the build that last wrote them: {month: number of distinct batches}."""
    rows = query(build_file(path), "select cast(month_key as varchar), count(distinct _batch_at) "
                                   f"from intermediate.{table} group by all")  # fmt: skip
    return dict(rows)


def latest_batch_months(path: Path, table: str, column: str = "_batch_at") -> set[str]:
    """The months the latest build wrote into an incremental table."""
    rows = query(build_file(path), f"select distinct cast(month_key as varchar) from intermediate.{table} "
                       f"where {column} = (select max({column}) from intermediate.{table})")  # fmt: skip
    return {m for (m,) in rows}


LATER = datetime(2026, 11, 20, 8, 0, 0)


@pytest.fixture(scope="module")
def warehouse_in_batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("incremental") / "w.duckdb"
    run_cli("demo", "--orgs", "12", "--months", "3", "--end-month", "2026-09", "--seed", "4", warehouse=path)
    return path


def test_batches_match_a_full_refresh(warehouse_in_batches: Path, tmp_path: Path) -> None:
    path = warehouse_in_batches
    run_cli("build", "--skip-validate", warehouse=path)
    first = assert_equals_full_refresh(path, tmp_path, "first build")

    # 1. A new month: October's events and cases arrive.
    append(path, "ai_token_events", [
        (f"ev-oct-{i}", "org-00001", datetime(2026, 10, 1 + i, 9), Decimal("40.5"), "copilot", LATER)
        for i in range(8)
    ])  # fmt: skip
    append(path, "cases", [(f"case-oct-{i}", "org-00002", datetime(2026, 10, 3, i), LATER) for i in range(5)])
    run_cli("build", "--skip-validate", warehouse=path)
    assert latest_batch_months(path, "int_ai_token_events_validated") == {"2026-10-01"}
    after_new_month = assert_equals_full_refresh(path, tmp_path, "new month")
    assert len(after_new_month["marts.fct_monthly_overages"]) > len(first["marts.fct_monthly_overages"])

    # 2. Late events for an old month.
    append(path, "ai_token_events", [
        (f"ev-late-{i}", "org-00003", datetime(2026, 7, 15, i), Decimal("300"), "translation",
         datetime(2026, 11, 21)) for i in range(3)
    ])  # fmt: skip
    run_cli("build", "--skip-validate", warehouse=path)
    assert latest_batch_months(path, "int_ai_token_events_validated") == {"2026-07-01"}
    assert latest_batch_months(path, "int_token_usage_summed_to_months", "_consumed_batch_at") == {"2026-07-01"}
    assert_equals_full_refresh(path, tmp_path, "late events")

    # 3. A re-sent correction that moves an event's winner to another month, and one for a case.
    (event_id, org_id, occurred_at) = query(
        build_file(path), "select event_id, org_id, occurred_at from raw.ai_token_events where event_id like 'ev-0%' "
              "and month(occurred_at) = 8 and org_id like 'org-0%' order by event_id limit 1")[0]  # fmt: skip
    append(path, "ai_token_events", [(event_id, org_id, datetime(2026, 9, 2, 10), Decimal("999"), "copilot",
                                      datetime(2026, 11, 22))])  # fmt: skip
    (case_id, case_org) = query(build_file(path), "select case_id, org_id from raw.cases where month(created_at) = 7 "
                                      "and org_id like 'org-0%' order by case_id limit 1")[0]  # fmt: skip
    append(path, "cases", [(case_id, case_org, datetime(2026, 8, 30, 23, 59, 59), datetime(2026, 11, 22))])
    run_cli("build", "--skip-validate", warehouse=path)
    assert latest_batch_months(path, "int_ai_token_events_validated") == {"2026-08-01", "2026-09-01"}
    assert latest_batch_months(path, "int_cases_validated") == {"2026-07-01", "2026-08-01"}
    assert_equals_full_refresh(path, tmp_path, "re-sent correction")
    moved = query(path, f"select reason from audit.rejected_rows where source_table = 'ai_token_events' "
                        f"and record_id = '{event_id}'")  # fmt: skip
    assert moved == [("duplicate",)]

    # 4. A subscription row that changes a past month's licence type, and one for an org that had none.
    (sub_org, tier, licence, currency) = query(
        path, "select org_id, license_tier, license_type, billing_currency from marts.dim_org_months "
              "where billing_month = '2026-08-01' and license_type = 'named' order by org_id limit 1")[0]  # fmt: skip
    append(path, "org_subscriptions", [
        (sub_org, "Changed Ltd", tier, "Concurrent", currency, datetime(2026, 8, 20), datetime(2026, 11, 23)),
        ("org-unsubscribed", "Late Signer", "CX2", "named", "USD", datetime(2026, 7, 1), datetime(2026, 11, 23)),
    ])  # fmt: skip
    run_cli("build", "--skip-validate", warehouse=path)
    final = assert_equals_full_refresh(path, tmp_path, "new subscription rows")
    august = query(path, f"select license_type, free_allocation from marts.fct_monthly_overages where org_id = "
                         f"'{sub_org}' and billing_month = '2026-08-01' and feature = 'ai_tokens'")  # fmt: skip
    assert august == [("concurrent", Decimal("350.0000"))]
    assert any(row[0] == "org-unsubscribed" for row in final["marts.dim_orgs"])
    # Its events from July on are accepted now; the earlier ones stay rejected.
    still_rejected = query(build_file(path), "select count(*) from audit.rejected_rows r join raw.ai_token_events e "
                                 "on r.record_id = e.event_id where e.org_id = 'org-unsubscribed' "
                                 "and r.reason = 'no_subscription' and e.occurred_at >= '2026-07-01'")  # fmt: skip
    assert still_rejected == [(0,)]

    # 5. A row landed without _loaded_at cannot be placed after what was built: that build goes in full. Every
    #    incremental build after it reads the row from raw again (and every other earlier row back from the
    #    validated tables): built twice with a row without an id, one without a timestamp and a workitem re-sent
    #    three days later.
    append(path, "ai_token_events", [("ev-no-loaded-at", "org-00001", datetime(2026, 9, 5, 8), Decimal("12"),
                                      "copilot", None)])  # fmt: skip
    done = run_cli("build", "--skip-validate", warehouse=path)
    assert "raw.ai_token_events changed in a way an incremental build cannot follow" in done.stderr
    (wi_id, wi_case, wi_queue, wi_created, wi_completed) = query(
        build_file(path), "select workitem_id, case_id, queue_id, created_at, completed_at from raw.case_workitems "
              "where workitem_id is not null and created_at is not null and completed_at is not null "
              "order by workitem_id limit 1")[0]  # fmt: skip
    append(path, "ai_token_events", [
        (None, "org-00001", datetime(2026, 9, 5, 9), Decimal("3"), "copilot", datetime(2026, 11, 24)),
        ("ev-no-time", "org-00001", None, Decimal("4"), "copilot", datetime(2026, 11, 24)),
    ])  # fmt: skip
    append(path, "case_workitems", [(wi_id, wi_case, wi_queue, wi_created + timedelta(days=3),
                                     wi_completed + timedelta(days=3), datetime(2026, 11, 24))])  # fmt: skip
    for label in ("rows without an id or a timestamp, a workitem re-sent", "nothing new"):
        run_cli("build", "--skip-validate", warehouse=path)
        assert query(path, "select full_refresh from audit.build_runs order by started_at desc limit 1") == [(False,)]
        assert_equals_full_refresh(path, tmp_path, label)
    assert query(build_file(path), "select count(*) from intermediate.int_ai_token_events_validated "
                       "where event_id = 'ev-no-loaded-at' and rejection_reason is null") == [(1,)]  # fmt: skip
    assert query(build_file(path), "select count(*) from intermediate.int_case_workitems_validated "
                       f"where workitem_id = '{wi_id}'") == [(2,)]  # fmt: skip


def test_a_second_build_with_nothing_new_rewrites_nothing(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    run_cli("demo", "--orgs", "6", "--months", "2", "--seed", "8", warehouse=path)
    run_cli("build", "--skip-validate", warehouse=path)
    before = snapshot(path), batch_months(path, "int_ai_token_events_validated")
    batches = query(build_file(path), "select max(_batch_at) from intermediate.int_ai_token_events_validated")
    run_cli("build", "--skip-validate", warehouse=path)
    assert (snapshot(path), batch_months(path, "int_ai_token_events_validated")) == before
    assert query(build_file(path), "select max(_batch_at) from intermediate.int_ai_token_events_validated") == batches


def test_rows_an_incremental_build_cannot_see_trigger_a_full_refresh(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    run_cli("demo", "--orgs", "6", "--months", "2", "--end-month", "2026-10", "--seed", "5", warehouse=path)
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    (watermark,) = query(build_file(path), "select max(_loaded_at) from raw.ai_token_events")[0]
    # Landed in the same instant as the latest rows already built: an incremental build cannot tell it from
    # them, so the build goes in full.
    append(path, "ai_token_events", [("ev-same-instant", "org-00001", datetime(2026, 10, 20), Decimal(7),
                                      "copilot", watermark)])  # fmt: skip
    done = run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    assert "raw.ai_token_events changed in a way an incremental build cannot follow" in done.stderr
    assert query(build_file(path), "select count(*) from intermediate.int_ai_token_events_validated "
                       "where event_id = 'ev-same-instant'") == [(1,)]  # fmt: skip
    # Landed late with an older _loaded_at: an incremental build would miss it, so the build goes in full.
    append(path, "cases", [("case-backdated", "org-00002", datetime(2026, 9, 3), datetime(2026, 9, 4))])
    done = run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    assert "raw.cases changed in a way an incremental build cannot follow" in done.stderr
    assert query(path, "select full_refresh from audit.build_runs order by started_at desc limit 1") == [(True,)]
    assert query(
        build_file(path), "select count(*) from intermediate.int_cases_validated where case_id = 'case-backdated'"
    ) == [(1,)]
    assert_equals_full_refresh(path, tmp_path, "backdated row")
    # The demo landed again with another seed replaces the raw tables: also a full refresh, nothing left over.
    run_cli("demo", "--orgs", "4", "--months", "1", "--seed", "6", warehouse=path)
    done = run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    assert "full refresh" in done.stderr
    assert_equals_full_refresh(path, tmp_path, "raw replaced")


def test_rows_judged_again_when_what_they_depend_on_lands_later(tmp_path: Path) -> None:
    """The rejected rows are kept incrementally, by day: a day whose every rejection is lifted by a later landing
    (a case landed after its workitems, a subscription landed after its org's events) must be emptied, and the
    rows of other days whose verdict depends on it judged again."""
    path = tmp_path / "w.duckdb"
    run_cli("demo", "--orgs", "6", "--months", "2", "--end-month", "2026-10", "--seed", "9", warehouse=path)
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    (org_id,) = query(path, "select org_id from marts.dim_orgs order by org_id limit 1")[0]
    # Alone on their days: workitems of a case not landed yet, events of an org with no subscription yet.
    append(path, "case_workitems", [(f"wi-early-{i}", "case-late", "queue-01", datetime(2026, 6, 15, i), None, LATER)
                                    for i in range(3)])  # fmt: skip
    append(path, "ai_token_events", [(f"ev-early-{i}", "org-late", datetime(2026, 6, 20, i), Decimal(5), "copilot",
                                      LATER) for i in range(2)])  # fmt: skip
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    reasons = query(path, "select record_id, reason from audit.rejected_rows where record_id like 'wi-early-%' "
                          "or record_id like 'ev-early-%' order by all")  # fmt: skip
    assert [r for (_, r) in reasons] == ["no_subscription"] * 2 + ["unknown_case"] * 3
    assert_equals_full_refresh(path, tmp_path, "rows waiting for their case and subscription")

    # The case lands, in another month than its workitems; the org's subscription lands.
    append(path, "cases", [("case-late", org_id, datetime(2026, 10, 11, 9), datetime(2026, 11, 21))])
    append(path, "org_subscriptions", [("org-late", "Late Ltd", "CX1", "named", "USD", datetime(2026, 6, 1),
                                        datetime(2026, 11, 21))])  # fmt: skip
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    assert query(path, "select count(*) from audit.rejected_rows where record_id like 'wi-early-%' "
                       "or record_id like 'ev-early-%'") == [(0,)]  # fmt: skip
    assert_equals_full_refresh(path, tmp_path, "case and subscription landed")

    # The case re-sent for an org without a subscription: its workitems are unknown_case again.
    append(path, "cases", [("case-late", "org-nobody", datetime(2026, 10, 11, 9), datetime(2026, 11, 22))])
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    assert query(path, "select count(*), min(org_id) from audit.rejected_rows where record_id like 'wi-early-%' "
                       "and reason = 'unknown_case'") == [(3, "org-nobody")]  # fmt: skip
    assert_equals_full_refresh(path, tmp_path, "case moved to an org without a subscription")


def test_tables_built_by_another_version_of_the_models_trigger_a_full_refresh(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    run_cli("demo", "--orgs", "4", "--months", "2", "--end-month", "2026-10", "--seed", "9", warehouse=path)
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    # As an earlier version of the project left them: a column since dropped, a column not yet added.
    con = duckdb.connect(str(build_file(path)))
    try:
        con.execute("alter table intermediate.int_ai_token_events_validated add column record_id varchar")
        con.execute("alter table intermediate.int_cases_rejected drop column orgs_fingerprint")
    finally:
        con.close()
    done = run_cli("build", "--skip-validate", "--quiet", "--force", warehouse=path)
    assert ("int_ai_token_events_validated, int_cases_rejected built by another version of the project "
            "(its columns differ): this build is a full refresh") in done.stderr  # fmt: skip
    assert query(path, "select full_refresh, outcome from audit.build_runs order by started_at desc limit 1") == [
        (True, "success")
    ]
    columns = query(build_file(path), "select table_name, column_name from information_schema.columns "
                          "where table_schema = 'intermediate' and column_name in ('record_id', 'orgs_fingerprint') "
                          "and table_name in ('int_ai_token_events_validated', 'int_cases_rejected')")  # fmt: skip
    assert sorted(columns) == [("int_cases_rejected", "orgs_fingerprint"), ("int_cases_rejected", "record_id")]
    assert_equals_full_refresh(path, tmp_path, "reshaped")
    # Built by this version: the next build is incremental again.
    run_cli("build", "--skip-validate", "--quiet", "--force", warehouse=path)
    assert query(path, "select full_refresh from audit.build_runs order by started_at desc limit 1") == [(False,)]


def test_ids_digested_by_another_engine_version_are_read_again_from_raw(tmp_path: Path) -> None:
    """The validated tables look earlier rows up by id_hash (overages.id_hash). Digests that are not what the
    engine computes now (as after an upgrade of DuckDB changed its hash) must not hide an earlier row of a
    re-sent id: the table is read again from raw and written back with the engine's digests."""
    path = tmp_path / "w.duckdb"
    run_cli("demo", "--orgs", "4", "--months", "2", "--end-month", "2026-10", "--seed", "3", warehouse=path)
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    con = duckdb.connect(str(build_file(path)))
    try:
        for table in ("int_case_workitems_validated", "int_cases_validated"):
            con.execute(f"update intermediate.{table} set id_hash = id_hash + 1")
        (workitem_id, case_id, created_at) = con.execute(
            "select workitem_id, case_id, created_at from intermediate.int_case_workitems_validated "
            "where rejection_reason is null and created_at < '2026-10-01' order by workitem_id limit 1"
        ).fetchone()
    finally:
        con.close()
    # Re-sent a month later, on another day: its earlier row becomes the duplicate.
    append(path, "case_workitems", [(workitem_id, case_id, "queue-resent", created_at + timedelta(days=20), None,
                                     LATER)])  # fmt: skip
    done = run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    assert "full refresh" not in done.stderr
    verdicts = query(build_file(path), "select queue_id = 'queue-resent', rejection_reason "
                           "from intermediate.int_case_workitems_validated "
                           f"where workitem_id = '{workitem_id}' order by 1")  # fmt: skip
    assert verdicts == [(False, "duplicate"), (True, None)]
    for table, column in (("int_case_workitems_validated", "workitem_id"), ("int_cases_validated", "case_id")):
        assert query(build_file(path), f"select count(*) from intermediate.{table} where {column} is not null and "
                           f"id_hash <> cast(hash({column}) >> 1 as bigint)") == [(0,)]  # fmt: skip
    assert_equals_full_refresh(path, tmp_path, "digests of another engine version")


def test_every_incremental_model_has_its_columns_checked_before_a_build() -> None:
    from conftest import PROJECT_DIR
    from overages.runs import incremental_model_columns, reshaped_models

    expected = incremental_model_columns(PROJECT_DIR / "models")
    assert set(expected) == {
        "int_ai_token_events_validated", "int_ai_token_events_rejected", "int_token_usage_summed_to_months",
        "int_cases_validated", "int_cases_rejected", "int_cases_counted_to_months",
        "int_case_workitems_validated", "int_case_workitems_rejected",
    }  # fmt: skip
    assert "day_key" in expected["int_case_workitems_validated"]
    built = {model: list(reversed(columns)) for model, columns in expected.items()}  # order does not matter
    assert reshaped_models(expected, built) == []
    del built["int_cases_rejected"]  # not built yet: an incremental build creates it
    built["int_cases_validated"] = [*built["int_cases_validated"], "record_id"]
    assert reshaped_models(expected, built) == ["int_cases_validated"]


def test_an_incremental_model_without_documented_columns_is_a_one_line_error(tmp_path: Path) -> None:
    from overages.errors import OveragesError
    from overages.runs import incremental_model_columns

    (tmp_path / "int_x.sql").write_text('{{ config(materialized="incremental") }}\nselect 1 as a\n')
    with pytest.raises(OveragesError, match=r"int_x.yml: cannot read the columns of incremental model int_x"):
        incremental_model_columns(tmp_path)
    (tmp_path / "int_x.yml").write_text("version: 2\nmodels:\n  - name: int_y\n")
    with pytest.raises(OveragesError, match=r"int_x.yml: cannot read the columns of incremental model int_x"):
        incremental_model_columns(tmp_path)
    (tmp_path / "int_x.yml").write_text("version: 2\nmodels:\n  - name: int_x\n    columns:\n      - name: A\n")
    assert incremental_model_columns(tmp_path) == {"int_x": ["a"]}
