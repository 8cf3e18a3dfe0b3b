"""Rules of the house read from dbt's manifest: every model has an owning group and an access level, every
model with a key has a key test (or says why it has no key), and every macro is documented in YAML."""

from __future__ import annotations

import json
import os

import pytest
from dbt.cli.main import dbtRunner

from conftest import PROJECT_DIR

KEY_TESTS = ("unique", "unique_combination", "row_count_equals")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    target = tmp_path_factory.mktemp("parse")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    done = dbtRunner().invoke(["parse", "--quiet", "--project-dir", str(PROJECT_DIR), "--profiles-dir",
                               str(PROJECT_DIR), "--target-path", str(target), "--log-path", str(target)])  # fmt: skip
    assert done.success, done.exception
    return json.loads((target / "manifest.json").read_text())


def models(manifest: dict) -> dict[str, dict]:
    return {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}


def key_tests(manifest: dict, model_id: str) -> list[tuple[str, object]]:
    """The key tests attached to a model: (test name, its column or columns)."""
    found = []
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] == "test" and node.get("attached_node") == model_id and meta.get("name") in KEY_TESTS:
            found.append((meta["name"], node.get("column_name") or meta["kwargs"].get("columns")))
    return found


def test_every_model_has_a_group_with_an_owner_and_an_access_level(manifest: dict) -> None:
    groups = {g["name"]: g for g in manifest["groups"].values()}
    assert all(g["owner"].get("email") and g["owner"].get("name") for g in groups.values())
    assert {m["name"]: m["group"] for m in models(manifest).values() if m["group"] not in groups} == {}
    access = {m["name"]: m["access"] for m in models(manifest).values()}
    assert {n for n, a in access.items() if a == "public"} == {
        m["name"] for m in models(manifest).values() if m["fqn"][1] == "marts"
    }
    assert set(access.values()) == {"public", "protected"}


def test_every_model_with_a_key_has_a_key_test(manifest: dict) -> None:
    """A model either has a key test (unique and not_null on one column, unique over a combination, or
    exactly one row) or declares `meta.no_key` with the reason it has none, never both nor neither."""
    wrong = {}
    for model_id, model in models(manifest).items():
        tests = key_tests(manifest, model_id)
        reason = (model["config"].get("meta") or {}).get("no_key")
        if bool(tests) == bool(reason):
            wrong[model["name"]] = f"key tests {tests}, no_key {reason!r}"
        for name, column in tests:
            if name == "unique":  # a one-column key is also not null
                not_null = [n for n in manifest["nodes"].values() if n.get("attached_node") == model_id
                            and (n.get("test_metadata") or {}).get("name") == "not_null"
                            and n.get("column_name") == column]  # fmt: skip
                if not not_null:
                    wrong[model["name"]] = f"unique {column} without not_null"
    assert wrong == {}
    horizon = next(k for k, m in models(manifest).items() if m["name"] == "int_billing_horizon")
    assert key_tests(manifest, horizon) == [("row_count_equals", None)]


def test_every_macro_is_documented_with_its_arguments(manifest: dict) -> None:
    ours = {k: m for k, m in manifest["macros"].items() if m["package_name"] == "overages"}
    assert len(ours) > 50
    undocumented = [m["name"] for m in ours.values() if not m["description"].strip()]
    assert undocumented == []
    wrong = {}
    for macro in ours.values():
        declared = list(macro["arguments"])
        # The signature's names, in order, from the macro's own first line.
        head = macro["macro_sql"].split("(", 1)[1].split(")", 1)[0]
        signature = [part.split("=")[0].strip() for part in head.split(",") if part.strip()]
        if [a["name"] for a in declared] != signature or not all(a["type"] and a["description"] for a in declared):
            wrong[macro["name"]] = (signature, declared)
    assert wrong == {}
    # Documented in YAML, not only in Jinja comments.
    assert {m["patch_path"] for m in ours.values()} == {"overages://macros/_macros.yml"}
