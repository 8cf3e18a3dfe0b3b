"""Documentation is part of the product: every model, column, seed and source described, exposures owned."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from overages.warehouse import state_dir

DOCS = state_dir() / "target" / "docs"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, str]:
    path = tmp_path_factory.mktemp("docs") / "w.duckdb"
    run_cli("demo", "--orgs", "5", "--months", "1", warehouse=path)
    run_cli("build", "--skip-validate", "--quiet", warehouse=path)
    before = path.stat().st_mtime_ns
    done = run_cli("docs", warehouse=path)
    assert path.stat().st_mtime_ns == before  # read-only
    assert str(DOCS / "static_index.html") in done.stdout
    manifest = json.loads((DOCS / "manifest.json").read_text())
    catalog = json.loads((DOCS / "catalog.json").read_text())
    return manifest, catalog, (DOCS / "static_index.html").read_text()


def test_every_model_seed_and_source_is_described(generated: tuple[dict, dict, str]) -> None:
    manifest, _, _ = generated
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")]
    nodes += list(manifest["sources"].values())
    assert len(nodes) > 30
    undescribed = [n["unique_id"] for n in nodes if not n["description"].strip()]
    assert undescribed == []


def test_every_column_in_the_warehouse_is_described(generated: tuple[dict, dict, str]) -> None:
    manifest, catalog, _ = generated
    missing = []
    for unique_id, entry in catalog["nodes"].items():
        if not unique_id.startswith(("model.", "seed.")):
            continue
        documented = {c.lower(): v["description"] for c, v in manifest["nodes"][unique_id]["columns"].items()}
        for column in entry["columns"]:
            if not documented.get(column.lower(), "").strip():
                missing.append(f"{unique_id}.{column}")
    assert missing == []


def test_grain_first_and_exposures_with_owners(generated: tuple[dict, dict, str]) -> None:
    manifest, _, page = generated
    for name in ("fct_monthly_overages", "fct_invoice_lines", "dim_orgs", "rejected_rows"):
        node = next(n for n in manifest["nodes"].values() if n["name"] == name)
        assert node["description"].lstrip().startswith("One row per"), name
    exposures = manifest["exposures"].values()
    assert {e["type"] for e in exposures} >= {"dashboard", "analysis"}
    assert all(e["owner"]["email"] and e["owner"]["name"] for e in exposures)
    assert "Finance overage dashboard" in page
