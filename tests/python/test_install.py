"""A wheel built from the repository, installed into a fresh virtual environment, runs `overages demo` and
`overages build` from an empty folder: the dbt project comes from the package, the warehouse lands in the
folder's ./warehouse/, and runs write their state outside the installed package."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import duckdb

from conftest import PROJECT_DIR


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}  # fmt: skip


def test_a_wheel_installed_elsewhere_builds_from_any_folder(tmp_path: Path) -> None:
    wheels, venv, folder, state = (tmp_path / name for name in ("wheels", "venv", "run", "state"))
    folder.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(PROJECT_DIR)],
                   check=True, capture_output=True, cwd=tmp_path)  # fmt: skip
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    found = subprocess.run([str(venv / "bin" / "python"), "-c", purelib], check=True, capture_output=True, text=True)
    site = Path(found.stdout.strip())
    # The third-party dependencies are those of the test's own environment (no index here); the package is the wheel's.
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (wheel,) = wheels.glob("overages-*.whl")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--quiet", str(wheel)],
                   check=True, capture_output=True)  # fmt: skip
    package = site / "overages"
    assert (package / "dbt_project" / "dbt_project.yml").is_file()
    assert not (package / "dbt_project" / "gx" / "uncommitted").exists()
    installed = _files(package)

    unset = ("WAREHOUSE_PATH", "OVERAGES_PROJECT_DIR", "OVERAGES_STATE_DIR")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env |= {"XDG_STATE_HOME": str(state), "DO_NOT_TRACK": "1"}
    for args in (["demo", "--orgs", "5", "--months", "1"], ["build", "--quiet"]):
        done = subprocess.run([str(venv / "bin" / "overages"), *args], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]

    con = duckdb.connect(str(folder / "warehouse" / "overages.duckdb"), read_only=True)
    try:
        (rows,) = con.execute("select count(*) from marts.fct_monthly_overages").fetchone()
    finally:
        con.close()
    assert rows > 0
    assert _files(package) == installed  # nothing written into the installed package
    assert (state / "overages" / "target").is_dir() and (state / "overages" / "gx" / "uncommitted").is_dir()
    # The wheel carried the Data Docs' npm files: the site was made offline from them.
    assert list((state / "overages" / "gx" / "uncommitted" / "data_docs").rglob("bootstrap.min.css"))
