"""The wheel carries the dbt project, so that an installed `overages` finds it (overages.warehouse.PROJECT_DIR).

setuptools reads everything else from pyproject.toml; this only adds a build step that copies the project's
files into the package as overages/dbt_project/, and, where `make setup` installed them, the Data Docs' npm
files (offline_docs.asset_files). An editable install reads the checkout itself and copies nothing.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PROJECT_FILES = ["dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "analyses", "tests/dbt", "gx", "conf"]


def _offline_docs():
    spec = importlib.util.spec_from_file_location("offline_docs", ROOT / "src/overages/validation/offline_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithProject(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "overages" / "dbt_project"
        shutil.rmtree(target, ignore_errors=True)  # build/ outlives a build: no file a later commit removed
        for name in PROJECT_FILES:
            source = ROOT / name
            if source.is_dir():
                ignore = shutil.ignore_patterns("uncommitted", "__pycache__")
                shutil.copytree(source, target / name, ignore=ignore, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
        modules = ROOT / "node_modules"
        for path in _offline_docs().asset_files(modules):
            (target / "node_modules" / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(modules / path, target / "node_modules" / path)


setup(cmdclass={"build_py": BuildPyWithProject})
