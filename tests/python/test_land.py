"""`overages land FOLDER`: raw tables from parquet files, cast to the landing contract, all or nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb

from conftest import export_raw, query, raw_file, run_cli
from overages.raw_contract import RAW_TABLES


def _raw_rows(path: Path) -> dict[str, list[tuple]]:
    return {table: query(raw_file(path), f"select * from raw.{table} order by all") for table in RAW_TABLES}


def test_land_gives_the_same_raw_tables_and_marts(tmp_path: Path) -> None:
    source, target = tmp_path / "source.duckdb", tmp_path / "target.duckdb"
    run_cli("demo", "--orgs", "4", "--months", "2", warehouse=source)
    export_raw(source, tmp_path / "files")
    done = run_cli("land", str(tmp_path / "files"), warehouse=target)
    assert "raw.ai_token_events" in done.stdout
    assert _raw_rows(target) == _raw_rows(source)
    run_cli("build", "--skip-validate", "--quiet", warehouse=target)
    run_cli("build", "--skip-validate", "--quiet", warehouse=source)
    overages = "select * from marts.fct_monthly_overages order by all"
    assert query(target, overages) == query(source, overages) != []


def test_land_takes_a_folder_of_files_and_casts_to_the_contract(tmp_path: Path) -> None:
    source, target = tmp_path / "source.duckdb", tmp_path / "target.duckdb"
    run_cli("demo", "--orgs", "3", "--months", "1", warehouse=source)
    export_raw(source, tmp_path / "files")
    # Tokens arrive as text in two files under a folder; the contract's decimal is what lands.
    events = tmp_path / "files" / "ai_token_events.parquet"
    folder = tmp_path / "files" / "ai_token_events_folder"
    folder.mkdir()
    con = duckdb.connect()
    relation = f"read_parquet('{events}')"
    as_text = f"select * replace (cast(tokens as varchar) as tokens) from {relation}"
    first = "event_id < 'ev-00000100'"
    con.execute(f"copy ({as_text} where {first}) to '{folder / 'a.parquet'}' (format parquet)")
    con.execute(f"copy ({as_text} where not coalesce({first}, false)) to '{folder / 'b.parquet'}' (format parquet)")
    con.close()
    events.unlink()
    folder.rename(events)
    run_cli("land", str(tmp_path / "files"), warehouse=target)
    assert query(raw_file(target), "select data_type from information_schema.columns where table_name = "
                                   "'ai_token_events' and column_name = 'tokens'") == [("DECIMAL(18,6)",)]  # fmt: skip
    assert _raw_rows(target) == _raw_rows(source)


def test_a_float_no_decimal_holds_lands_and_is_rejected_alone(tmp_path: Path) -> None:
    source, target = tmp_path / "source.duckdb", tmp_path / "target.duckdb"
    run_cli("demo", "--orgs", "3", "--months", "1", warehouse=source)
    export_raw(source, tmp_path / "files")
    events = tmp_path / "files" / "ai_token_events.parquet"
    con = duckdb.connect()  # tokens as DOUBLE, two of them a NaN and 1e20 (rule 9: each its own row's fault)
    ids = f"(select event_id from read_parquet('{events}') where event_id like 'ev-%' order by event_id limit 2)"
    con.execute(f"copy (select * replace (case when event_id = (select min(event_id) from {ids}) then 'nan'::double "
                f"when event_id in {ids} then 1e20 else cast(tokens as double) end as tokens) "
                f"from read_parquet('{events}')) to '{tmp_path / 'events.parquet'}' (format parquet)")  # fmt: skip
    con.close()
    (tmp_path / "events.parquet").replace(events)
    run_cli("land", str(tmp_path / "files"), warehouse=target)
    (nans, huge), *_ = query(
        raw_file(target),
        "select count(*) filter (where isnan(tokens)), count(*) filter (where tokens = 1e20) from raw.ai_token_events",
    )
    assert nans >= 1 and huge >= 1  # landed as they were
    run_cli("build", "--skip-validate", "--quiet", warehouse=target)
    bad = query(raw_file(target), "select event_id from raw.ai_token_events where isnan(tokens) or tokens = 1e20")
    reasons = {query(target, f"select reason from audit.rejected_rows where source_table = 'ai_token_events' and "
                             f"record_id = '{event_id}'")[0][0] for (event_id,) in bad}  # fmt: skip
    assert len(bad) >= 2 and reasons == {"invalid_quantity"}
    assert query(target, "select count(*) from marts.fct_monthly_overages")[0][0] > 0


def test_a_missing_file_or_column_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "source.duckdb"
    run_cli("demo", "--orgs", "3", "--months", "1", warehouse=source)
    export_raw(source, tmp_path / "files")
    before = _raw_rows(source)
    (tmp_path / "files" / "cases.parquet").unlink()
    done = run_cli("land", str(tmp_path / "files"), warehouse=source, check=False)
    assert done.returncode == 2 and "cases.parquet is missing" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    con = duckdb.connect()
    events = tmp_path / "files" / "ai_token_events.parquet"
    con.execute(f"copy (select event_id as case_id, org_id, _loaded_at from read_parquet('{events}') limit 0) "
                f"to '{tmp_path / 'files' / 'cases.parquet'}' (format parquet)")  # fmt: skip
    con.close()
    done = run_cli("land", str(tmp_path / "files"), warehouse=source, check=False)
    assert done.returncode == 2 and "has no column" in done.stderr and "Traceback" not in done.stderr
    assert _raw_rows(source) == before


def test_a_value_that_cannot_be_cast_changes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "source.duckdb"
    run_cli("demo", "--orgs", "3", "--months", "1", warehouse=source)
    export_raw(source, tmp_path / "files")
    before = _raw_rows(source)
    con = duckdb.connect()
    contracts = tmp_path / "files" / "contract_rates.parquet"
    con.execute(f"copy (select * replace ('not a date' as valid_from) from read_parquet('{contracts}')) "
                f"to '{tmp_path / 'bad.parquet'}' (format parquet)")  # fmt: skip
    con.close()
    (tmp_path / "bad.parquet").replace(contracts)
    done = run_cli("land", str(tmp_path / "files"), warehouse=source, check=False)
    assert done.returncode == 2 and "cannot land" in done.stderr and "contract_rates" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _raw_rows(source) == before
