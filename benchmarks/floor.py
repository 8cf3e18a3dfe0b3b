"""Run the floor (benchmarks/floor.sql) on a warehouse, and compare its results with the dbt build's.

    python benchmarks/floor.py --warehouse FILE [--memory-limit 8GB] [--threads N]   # writes schema floor
    python benchmarks/floor.py --warehouse FILE --compare                            # floor vs marts, JSON
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parent / "seeds" / "reference"


def script() -> str:
    return (HERE / "floor.sql").read_text().replace("__SEEDS__", str(SEEDS))


def run(path: Path, memory_limit: str | None = None, threads: int | None = None) -> float:
    config = {"preserve_insertion_order": "false"}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = str(threads)
    started = time.perf_counter()
    con = duckdb.connect(str(path), config=config)
    try:
        con.execute(script())
        con.execute("checkpoint")
    finally:
        con.close()
    return time.perf_counter() - started


def _differences(con: duckdb.DuckDBPyConnection, left: str, right: str) -> tuple[int, int]:
    """Rows of left missing from right and of right missing from left, with multiplicity (EXCEPT ALL)."""
    only_left = con.execute(f"select count(*) from (select * from {left} except all select * from {right})").fetchone()
    only_right = con.execute(f"select count(*) from (select * from {right} except all select * from {left})").fetchone()
    return only_left[0], only_right[0]


def compare(path: Path) -> dict:
    """Floor against marts/audit: row-for-row equality of the two marts, rejected counts per table and reason."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        result: dict = {}
        for name, marts in (("fct_monthly_overages", "marts.fct_monthly_overages"),
                            ("fct_invoice_lines", "marts.fct_invoice_lines")):  # fmt: skip
            # A mart may carry columns the floor does not compute (descriptive ones, such as an invoice number):
            # compare every column the floor has; one the mart lacks fails the comparison loudly.
            columns = ", ".join(f'"{c}"' for (c,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'floor' and table_name = ? "
                "order by column_index", [name]).fetchall())  # fmt: skip
            marts = f"(select {columns} from {marts})"
            only_floor, only_marts = _differences(con, f"floor.{name}", marts)
            rows_floor = con.execute(f"select count(*) from floor.{name}").fetchone()[0]
            rows_marts = con.execute(f"select count(*) from {marts}").fetchone()[0]
            result[name] = {
                "rows_floor": rows_floor,
                "rows_marts": rows_marts,
                "only_in_floor": only_floor,
                "only_in_marts": only_marts,
                "equal": only_floor == 0 and only_marts == 0 and rows_floor == rows_marts,
            }
            if not result[name]["equal"]:
                result[name]["examples"] = [
                    [str(v) for v in row]
                    for row in con.execute(
                        f"""
                        (select 'floor' as side, * from (select * from floor.{name} except all select * from {marts})
                         limit 5)
                        union all
                        (select 'marts', * from (select * from {marts} except all select * from floor.{name}) limit 5)
                        """
                    ).fetchall()
                ]
        counts = con.execute(
            """
            with f as (select source_table, reason, count(*) as n from floor.rejected_rows group by all),
                 m as (select source_table, reason, count(*) as n from audit.rejected_rows group by all)
            select coalesce(f.source_table, m.source_table) as source_table, coalesce(f.reason, m.reason) as reason,
                   coalesce(f.n, 0) as floor_rows, coalesce(m.n, 0) as audit_rows
            from f full join m on f.source_table = m.source_table and f.reason = m.reason
            order by 1, 2
            """
        ).fetchall()
        result["rejected_rows"] = {
            "by_reason": [
                {"source_table": t, "reason": r, "floor": a, "audit": b} for t, r, a, b in counts
            ],
            "equal": all(a == b for _, _, a, b in counts),
        }
        only_floor, only_audit = _differences(
            con,
            "(select source_table, record_id, org_id, reason, _loaded_at from floor.rejected_rows)",
            "(select source_table, record_id, org_id, reason, _loaded_at from audit.rejected_rows)",
        )
        result["rejected_rows"]["rows_equal"] = only_floor == 0 and only_audit == 0
        result["rejected_rows"]["only_in_floor"] = only_floor
        result["rejected_rows"]["only_in_audit"] = only_audit
        result["equal"] = (
            result["fct_monthly_overages"]["equal"]
            and result["fct_invoice_lines"]["equal"]
            and result["rejected_rows"]["equal"]
        )
        return result
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--compare", action="store_true", help="compare floor with the marts instead of running")
    args = parser.parse_args(argv)
    if args.compare:
        result = compare(args.warehouse)
        print(json.dumps(result, indent=2))
        return 0
    seconds = run(args.warehouse, args.memory_limit, args.threads)
    print(json.dumps({"seconds": round(seconds, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
