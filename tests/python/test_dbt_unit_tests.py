"""dbt's own unit tests (one per billing rule, on its edges) pass against a built warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT_DIR, build_file, run_cli

pytestmark = pytest.mark.rules  # make test-fast


def test_dbt_unit_tests_pass(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    run_cli("demo", "--orgs", "5", "--months", "1", warehouse=path)
    run_cli("build", warehouse=path)
    dbt = str(Path(sys.executable).with_name("dbt"))
    env = {**os.environ, "OVERAGES_BUILD_PATH": str(build_file(path)), "DO_NOT_TRACK": "1"}
    done = subprocess.run(
        [
            dbt,
            "test",
            "--select",
            "test_type:unit",
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    summary = [line for line in done.stdout.splitlines() if "Done. PASS=" in line]
    assert summary, done.stdout[-2000:]
    counts = dict(item.split("=") for item in summary[-1].split("Done. ")[1].split())
    assert int(counts["PASS"]) >= 10
    assert counts["PASS"] == counts["TOTAL"]
