"""The gx/ file project: one data source of exported frames, the suites, their validation definitions and
one checkpoint. Written from code by `overages gx-config` (and before each validation), with ids derived
from where they stand, so that the JSON in git is always what the code says and writing it twice changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import uuid
from pathlib import Path

import duckdb

from overages.validation.frames import FRAMES
from overages.validation.suites import SUITES, build_suite

DATASOURCE = "warehouse_frames"
CHECKPOINT = "overages"
# Relative to the folder holding gx/: GX resolves a file data source's folder against the working directory.
FRAMES_FOLDER = Path("gx") / "uncommitted" / "frames"
DATA_DOCS_INDEX = Path("gx") / "uncommitted" / "data_docs" / "local_site" / "index.html"
# What the project under a root was last written from (see ensure_project).
STAMP = Path("gx") / "uncommitted" / "project.sha1"
# Ids GX generates at random are replaced by ones derived from this namespace (see _stabilise_ids).
ID_NAMESPACE = uuid.UUID("0b7f4d1e-3c2a-5e8f-9a61-7d2c4b9e0f13")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _quiet_gx() -> None:
    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _placeholder_frames(root: Path) -> None:
    """A file data source checks its folder holds files: give each frame an empty one until a run exports it."""
    folder = root / FRAMES_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        for name in FRAMES:
            path = folder / f"{name}.parquet"
            if not path.exists():
                con.execute(f"copy (select 1 as placeholder where false) to '{path}' (format parquet)")
    finally:
        con.close()


def _stabilise_ids(gx_dir: Path) -> None:
    """Replace the random ids GX generates with ones that depend only on where they first appear.

    The project's files have the same structure every time they are written from the same code, so the
    k-th distinct id (files in sorted order, then order of appearance) always names the same object.
    Rewriting ids that are already stable gives them back unchanged.
    """
    files = sorted(p for p in gx_dir.rglob("*") if p.is_file() and "uncommitted" not in p.relative_to(gx_dir).parts)
    texts = {path: path.read_text() for path in files}
    mapping: dict[str, str] = {}
    for path in files:
        for found in _UUID.findall(texts[path]):
            mapping.setdefault(found, str(uuid.uuid5(ID_NAMESPACE, str(len(mapping)))))
    for path, text in texts.items():
        fresh = _UUID.sub(lambda match: mapping[match.group(0)], text)
        if fresh != text:
            path.write_text(fresh)


def write_project(root: Path):  # noqa: ANN201 - returns a GX FileDataContext (imported lazily: GX is slow)
    """Create or update the gx/ project under `root`; returns its context."""
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = root.resolve()
    _placeholder_frames(root)
    with contextlib.chdir(root):
        context = gx.get_context(mode="file", project_root_dir=str(root))
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        context.variables.save()
        source = context.data_sources.add_or_update_pandas_filesystem(name=DATASOURCE, base_directory=FRAMES_FOLDER)
        definitions = []
        for suite_name, (frame, _, _) in SUITES.items():
            try:
                asset = source.get_asset(frame)
            except LookupError:
                asset = source.add_parquet_asset(name=frame)
            try:
                batch = asset.get_batch_definition(frame)
            except (KeyError, LookupError):
                batch = asset.add_batch_definition_path(name=frame, path=f"{frame}.parquet")
            suite = context.suites.add_or_update(build_suite(suite_name))
            definitions.append(
                context.validation_definitions.add_or_update(
                    gx.ValidationDefinition(
                        name=suite_name,
                        data=batch,
                        suite=suite,
                    )
                )
            )
        context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=CHECKPOINT,
                validation_definitions=definitions,
                # No Data Docs action: it rebuilds the site (its index over every stored result) once per suite;
                # runner.validate builds it once per run instead.
                actions=[],
                result_format={"result_format": "COMPLETE"},
            )
        )
    _stabilise_ids(root / "gx")
    return context


def _written_files(root: Path) -> list[Path]:
    """The project's files that write_project writes (the committed part of gx/)."""
    gx_dir = root / "gx"
    return sorted(p for p in gx_dir.rglob("*") if p.is_file() and "uncommitted" not in p.relative_to(gx_dir).parts)


def _fingerprint(root: Path) -> str:
    """GX's version, the suites as code defines them, and the project's files as they are on disk."""
    import great_expectations as gx

    digest = hashlib.sha1()
    code = [gx.__version__, DATASOURCE, CHECKPOINT, str(FRAMES_FOLDER),
            {name: (frame, build_suite(name).to_json_dict()) for name, (frame, _, _) in SUITES.items()}]  # fmt: skip
    digest.update(json.dumps(code, sort_keys=True, default=str).encode())
    for path in _written_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_project(root: Path) -> None:
    """write_project(root), unless the project there is the one this code writes: its files unchanged since this
    code wrote them (about a second of GX's file store saved on every checkpoint)."""
    root = root.resolve()
    stamp = root / STAMP
    expected = [root / "gx" / "great_expectations.yml", root / "gx" / "checkpoints" / f"{CHECKPOINT}.json",
                *(root / "gx" / folder / f"{name}.json" for name in SUITES
                  for folder in ("expectations", "validation_definitions"))]  # fmt: skip
    if all(path.exists() for path in expected) and stamp.exists():
        with contextlib.suppress(OSError):
            if stamp.read_text() == _fingerprint(root):
                return
    write_project(root)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    staging = stamp.with_name(f".{stamp.name}.{os.getpid()}")
    staging.write_text(_fingerprint(root))
    os.replace(staging, stamp)
