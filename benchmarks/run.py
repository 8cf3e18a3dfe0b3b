"""The overages benchmark: a full dbt build, an incremental day and the hand-written floor, on one file.

    .venv/bin/python benchmarks/run.py [--events N] [--orgs N] [--months N] [--memory-limit 8GB] [--threads N]
                                       [--warehouse FILE] [--keep]

Steps, each its own subprocess (wall time and the peak resident memory of its process tree, from wait4):
  1. land      benchmarks/land.py: N AI token events, ~0.92 N cases, ~2 workitems per case, faults included
  2. full      overages build --full-refresh --skip-validate, then the same with its checkpoint (what a
               schedule runs): each publishes its snapshot
  3. day       benchmarks/land.py --one-more-day (the next day, ~N/180 events, landed after everything), then
               overages build --skip-validate; another day, then overages build with its checkpoint
  4. nothing   overages build again with nothing new landed: must not run dbt
  5. floor     benchmarks/floor.py: the same rules as one DuckDB script on the raw tables (schema floor)
then checks that floor equals the marts row for row and that rejected rows agree per table and reason,
prints a Markdown table and writes benchmarks/results.md (appended) and benchmarks/results.json.
Any step that fails (non-zero exit, or a mismatch) makes the benchmark fail loudly (exit 1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
VENV_BIN = Path(sys.executable).parent
OVERAGES = VENV_BIN / "overages"
OUT = HERE / "out"


class BenchmarkFailed(SystemExit):
    def __init__(self, message: str) -> None:
        print(f"\nBENCHMARK FAILED: {message}", file=sys.stderr)
        super().__init__(1)


def build_file(warehouse: Path) -> Path:
    """Mirrors overages.publish.build_path: where raw data lands and builds write."""
    return warehouse.parent / f"{warehouse.stem}.build" / warehouse.name


def remove_warehouse(warehouse: Path) -> None:
    """The published file, its build file and kept snapshots, write-ahead logs, the build lock, spill folders."""
    for suffix in ("", ".wal", ".build.lock"):
        warehouse.with_name(warehouse.name + suffix).unlink(missing_ok=True)
    shutil.rmtree(warehouse.with_name(warehouse.name + ".tmp"), ignore_errors=True)
    for suffix in (".build", ".snapshots"):
        shutil.rmtree(warehouse.parent / f"{warehouse.stem}{suffix}", ignore_errors=True)


def measure(name: str, command: list[str], log: Path) -> dict:
    """Run one step as a child process; wall seconds, peak RSS (MiB) of its process tree, its stdout."""
    print(f"-> {name}: {shlex.join(command)}", flush=True)
    env = {**os.environ, "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    with open(log, "w") as out, open(log.with_suffix(".err"), "w") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=PROJECT, env=env)
        # wait4 returns the rusage of this child and of the descendants it waited for: its own tree only.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout = log.read_text()
    if process.returncode != 0:
        tail = "".join(log.with_suffix(".err").read_text().splitlines(keepends=True)[-20:])
        print(stdout[-3000:], file=sys.stderr)
        print(tail, file=sys.stderr)
        raise BenchmarkFailed(f"step '{name}' exited with {process.returncode} (logs: {log}, {log.with_suffix('.err')})")
    peak_mib = usage.ru_maxrss / 1024  # Linux: kilobytes
    print(f"   {seconds:.1f} s, peak {peak_mib:,.0f} MiB", flush=True)
    return {"step": name, "seconds": round(seconds, 2), "peak_mib": round(peak_mib), "stdout": stdout}


def json_tail(stdout: str) -> dict:
    """The JSON document a step printed (the last one, which may span several lines)."""
    start = stdout.find("{")
    if start < 0:
        raise BenchmarkFailed(f"no JSON in the output: {stdout[-500:]}")
    return json.loads(stdout[start:])


def slowest_nodes(document: dict) -> list[dict]:
    """The slowest dbt nodes of a build, from its --json document (builds write no run_results.json)."""
    dbt = document.get("dbt") or {}
    rows = [{"node": n["node"].split(".", 2)[-1] if n["node"].startswith("model.") else n["node"],
             "seconds": n["seconds"]} for n in dbt.get("slowest") or []]  # fmt: skip
    if dbt:
        rows.append({"node": f"all {dbt['nodes']} nodes (sum of node times)", "seconds": dbt["node_seconds"]})
    return rows


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = int(next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemTotal")))
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(total_kib / 2**20, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }


def row_counts(warehouse: Path) -> dict:
    con = duckdb.connect(str(build_file(warehouse)), read_only=True)
    try:
        raw = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0]
               for t in ("ai_token_events", "cases", "case_workitems", "org_subscriptions", "wallboard_accounts",
                         "contract_rates")}  # fmt: skip
        existing = {f"{s}.{t}" for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in ('marts', 'audit')").fetchall()}
        marts = {t: con.execute(f"select count(*) from {t}").fetchone()[0]
                 for t in ("marts.fct_monthly_overages", "marts.fct_invoice_lines", "audit.rejected_rows")
                 if t in existing}
        return {"raw": raw, "raw_total": sum(raw.values()), "marts": marts}
    finally:
        con.close()


def fmt_s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds:.0f} s ({seconds / 60:.1f} min)"


def render(doc: dict) -> str:
    steps = {s["step"]: s for s in doc["steps"]}
    m = doc["machine"]
    lines = [
        f"## {doc['date']}: {doc['args']['events']:,} events",
        "",
        f"Machine: {m['cores']} cores, {m['memory_gib']} GiB ({m['cpu']}); Python {m['python']}, "
        f"DuckDB {m['duckdb']}. Memory limit {doc['args']['memory_limit']}, threads {doc['args']['threads'] or 'all'}.",
        "",
        f"Command: `{doc['command']}`",
        "",
        f"Raw rows after landing: {doc['counts_full']['raw_total']:,} "
        + "(" + ", ".join(f"{k} {v:,}" for k, v in doc["counts_full"]["raw"].items()) + "); "
        f"one more day added {sum(doc['day_rows'].values()):,} rows. "
        f"Marts after the incremental build: "
        + ", ".join(f"{k} {v:,}" for k, v in doc["counts_final"]["marts"].items()) + ".",
        "",
        "| step | wall time | peak memory | note |",
        "| --- | ---: | ---: | --- |",
    ]
    notes = {
        "land": "benchmarks/land.py (DuckDB SQL)",
        "full build": "`overages build --full-refresh`, checkpoint and publication included",
        "full build, --skip-validate": "the same without the checkpoint",
        "land one more day": "benchmarks/land.py --one-more-day",
        "incremental build": f"`overages build`; months changed: {', '.join(doc['months_incremental'])}",
        "land another day": "benchmarks/land.py --one-more-day",
        "incremental build, --skip-validate": "the same without the checkpoint",
        "build with nothing new": "`overages build` again: nothing to run",
        "floor": "benchmarks/floor.sql, one DuckDB script, no dbt",
    }
    for name, step in steps.items():
        lines.append(f"| {name} | {fmt_s(step['seconds'])} | {step['peak_mib']:,} MiB | {notes.get(name, '')} |")
    r = doc["ratios"]
    c = doc["comparison"]
    lines += [
        "",
        "| ratio | value | target | met |",
        "| --- | ---: | ---: | --- |",
        f"| full build / floor | {r['full_over_floor']:.2f} | <= 1.5 | {'yes' if r['full_over_floor'] <= 1.5 else 'no'} |",
        f"| incremental day / full build | {r['incremental_over_full']:.3f} | < 0.2 (with checkpoint) | "
        f"{'yes' if r['incremental_over_full'] < 0.2 else 'no'} |",
        f"| full build / floor, --skip-validate | {r.get('full_skip_validate_over_floor', 0):.2f} | | |",
        f"| incremental / full, --skip-validate | {r.get('incremental_skip_validate_over_full', 0):.3f} | < 0.1 | "
        f"{'yes' if r.get('incremental_skip_validate_over_full', 1) < 0.1 else 'no'} |",
        f"| checkpoint's share of the full build | {r.get('checkpoint_share_of_full', 0):.3f} | <= 0.1 | "
        f"{'yes' if r.get('checkpoint_share_of_full', 1) <= 0.1 else 'no'} |",
        "",
        "Publication (the snapshot readers open): "
        + "; ".join(f"{k} build {v['seconds']} s, {v['bytes'] / 2**20:,.1f} MiB" for k, v in
                    (doc.get("publishing") or {}).items() if v),  # fmt: skip
        "",
        "Checkpoint as the build timed it (frames, Great Expectations, Data Docs): "
        + "; ".join(f"{k} build {v} s" for k, v in (doc.get("checkpoint_seconds") or {}).items() if v is not None),
        "",
        "Floor vs dbt (after the incremental build): "
        f"fct_monthly_overages {'equal' if c['fct_monthly_overages']['equal'] else 'DIFFERENT'} "
        f"({c['fct_monthly_overages']['rows_marts']:,} rows; only in floor {c['fct_monthly_overages']['only_in_floor']}, "
        f"only in marts {c['fct_monthly_overages']['only_in_marts']}), "
        f"fct_invoice_lines {'equal' if c['fct_invoice_lines']['equal'] else 'DIFFERENT'}, "
        f"rejected rows per (source_table, reason) {'equal' if c['rejected_rows']['equal'] else 'DIFFERENT'} "
        f"({sum(x['audit'] for x in c['rejected_rows']['by_reason']):,} rows, "
        f"{len(c['rejected_rows']['by_reason'])} table/reason pairs; row for row "
        f"{'equal' if c['rejected_rows']['rows_equal'] else 'different'}).",
        "",
        "Slowest dbt nodes of the full build (the build's --json document, seconds; nodes run 'threads' at a time):",
        "",
        "| node | full | incremental |",
        "| --- | ---: | ---: |",
    ]
    inc = {n["node"]: n["seconds"] for n in doc["slowest_incremental"]}
    for node in doc["slowest_full"]:
        lines.append(f"| {node['node']} | {node['seconds']} | {inc.get(node['node'], '')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark: full build, incremental day and floor on one file.")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--orgs", type=int, default=None, help="default: events/1000, at least 50, at most 20,000")
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--memory-limit", default="8GB")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--warehouse", type=Path, default=None, help="default: benchmarks/out/bench-<events>.duckdb")
    parser.add_argument("--keep", action="store_true", help="keep the warehouse file afterwards")
    args = parser.parse_args(argv)

    warehouse = (args.warehouse or OUT / f"bench-{args.events}.duckdb").resolve()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    remove_warehouse(warehouse)
    logs = OUT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stem = warehouse.stem
    py = str(VENV_BIN / "python")
    resources = ["--memory-limit", args.memory_limit] + (["--threads", str(args.threads)] if args.threads else [])
    # The command a schedule runs (with its checkpoint), and the same without it.
    build = [str(OVERAGES), "build", "--warehouse", str(warehouse), "--quiet", "--json", *resources]
    skip = [*build, "--skip-validate"]
    work = build_file(warehouse)
    work.parent.mkdir(parents=True, exist_ok=True)
    land = [py, str(HERE / "land.py"), "--warehouse", str(work), *resources]

    steps = []
    land_cmd = land + ["--events", str(args.events), "--months", str(args.months)]
    if args.orgs:
        land_cmd += ["--orgs", str(args.orgs)]
    steps.append(measure("land", land_cmd, logs / f"{stem}-land.log"))
    counts_full = row_counts(warehouse)

    def built(name: str, command: list[str], log: str) -> dict:
        step = measure(name, command, logs / f"{stem}-{log}.log")
        document = json_tail(step["stdout"])
        if document["build"]["outcome"] != "success":
            raise BenchmarkFailed(f"{name}: outcome {document['build']['outcome']}: {document['build']['message']}")
        step["document"] = document
        steps.append(step)
        return step

    # Each pair runs the build without its checkpoint first, so that what is published at the end of the pair
    # passed the checkpoint (a build with nothing new skips dbt only when the published build was checked).
    full_skip = built("full build, --skip-validate", [*skip, "--full-refresh"], "full-skip")
    full = built("full build", [*build, "--full-refresh"], "full")
    full_doc = full["document"]
    slowest_full = slowest_nodes(full_doc)

    day = measure("land one more day", land + ["--one-more-day"], logs / f"{stem}-day.log")
    steps.append(day)
    day_rows = json_tail(day["stdout"])["rows"]
    inc_skip = built("incremental build, --skip-validate", skip, "incremental-skip")
    steps.append(measure("land another day", land + ["--one-more-day"], logs / f"{stem}-day2.log"))
    inc = built("incremental build", build, "incremental")
    inc_doc = inc["document"]
    slowest_incremental = slowest_nodes(inc_doc)
    nothing = built("build with nothing new", build, "nothing-new")
    if not nothing["document"].get("up_to_date"):
        raise BenchmarkFailed("a build with nothing new landed ran dbt")

    floor = measure("floor", [py, str(HERE / "floor.py"), "--warehouse", str(work), *resources],
                    logs / f"{stem}-floor.log")  # fmt: skip
    steps.append(floor)

    compared = measure("compare", [py, str(HERE / "floor.py"), "--warehouse", str(work), "--compare"],
                       logs / f"{stem}-compare.log")  # fmt: skip
    comparison = json_tail(compared["stdout"])
    counts_final = row_counts(warehouse)
    publishing = {name: step["document"].get("published") for name, step in
                  (("full", full), ("incremental", inc))}  # fmt: skip

    for step in steps:
        step.pop("stdout", None)
        step.pop("document", None)
    doc = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "args": {"events": args.events, "orgs": args.orgs, "months": args.months,
                 "memory_limit": args.memory_limit, "threads": args.threads},  # fmt: skip
        "machine": machine(),
        "warehouse": str(warehouse),
        "steps": steps,
        "build_seconds_reported": {"full": full_doc["seconds"], "incremental": inc_doc["seconds"]},
        # The checkpoint as the build timed it (the export of its frames, Great Expectations, its Data Docs).
        "checkpoint_seconds": {"full": full_doc.get("checkpoint_seconds"),
                               "incremental": inc_doc.get("checkpoint_seconds")},  # fmt: skip
        "months_full": full_doc["build"]["months_rebuilt"],
        "months_incremental": inc_doc["build"]["months_rebuilt"],
        "ratios": {
            "full_over_floor": round(full["seconds"] / floor["seconds"], 3),
            "full_skip_validate_over_floor": round(full_skip["seconds"] / floor["seconds"], 3),
            "incremental_over_full": round(inc["seconds"] / full["seconds"], 4),
            "incremental_skip_validate_over_full": round(inc_skip["seconds"] / full_skip["seconds"], 4),
            "checkpoint_share_of_full": round((full["seconds"] - full_skip["seconds"]) / full["seconds"], 3),
        },
        "publishing": publishing,
        "counts_full": counts_full,
        "day_rows": day_rows,
        "counts_final": counts_final,
        "comparison": comparison,
        "slowest_full": slowest_full,
        "slowest_incremental": slowest_incremental,
    }
    table = render(doc)
    print()
    print(table)
    results_md = HERE / "results.md"
    if not results_md.exists():
        results_md.write_text("# Benchmark results\n\nWritten by `benchmarks/run.py` (see README.md); newest last.\n\n")
    with results_md.open("a") as f:
        f.write(table + "\n")
    results_json = HERE / "results.json"
    history = json.loads(results_json.read_text()) if results_json.exists() else []
    history.append(doc)
    results_json.write_text(json.dumps(history, indent=2, default=str) + "\n")
    print(f"written: {results_md}, {results_json}")

    if not args.keep:
        remove_warehouse(warehouse)
    if not comparison["equal"]:
        raise BenchmarkFailed("the floor and the dbt marts differ: see 'comparison' in results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
