"""A reader of the published warehouse, run as its own process by test_publish.py, the way a BI tool or a notebook
reads it: `hold` keeps one connection open (Python's duckdb, or SQLAlchemy with duckdb-engine as Superset connects)
and reads through it again and again; `poll` opens a new connection for every read. Each read is one JSON line
in OUT: the sum of overage_amount, the row count and the build id of the snapshot, or the error it met.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

READ = ("select cast(sum(overage_amount) as varchar), count(*), (select max(build_id) from audit.snapshot) "
        "from marts.fct_monthly_overages")  # fmt: skip


def main() -> None:
    mode, path, stop, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    with out.open("a", encoding="utf-8") as lines:

        def record(**fields: object) -> None:
            lines.write(json.dumps(fields) + "\n")
            lines.flush()

        if mode == "poll":
            import duckdb

            while not stop.exists():
                try:
                    con = duckdb.connect(str(path), read_only=True)
                    try:
                        total, rows, build = con.execute(READ).fetchall()[0]
                    finally:
                        con.close()
                    record(total=total, rows=rows, build=build)
                except Exception as error:  # noqa: BLE001 - every error is what the test counts
                    record(error=f"{type(error).__name__}: {error}")
                time.sleep(0.05)
            return
        if mode == "hold-duckdb":
            import duckdb

            con = duckdb.connect(str(path), read_only=True)
            read = lambda: con.execute(READ).fetchall()[0]  # noqa: E731
        elif mode == "hold-sqlalchemy":
            import sqlalchemy

            # The connection string a BI tool (Superset) is given: README "Connecting a BI tool", docs/bi.md.
            engine = sqlalchemy.create_engine(f"duckdb:///{path}?access_mode=read_only")
            con = engine.connect()
            read = lambda: tuple(con.execute(sqlalchemy.text(READ)).fetchall()[0])  # noqa: E731
        else:
            raise SystemExit(f"unknown mode {mode}")
        while not stop.exists():
            try:
                total, rows, build = read()
                record(total=total, rows=rows, build=build)
            except Exception as error:  # noqa: BLE001
                record(error=f"{type(error).__name__}: {error}")
            time.sleep(0.2)
        con.close()


if __name__ == "__main__":
    main()
