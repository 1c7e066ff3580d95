"""DVC's content hash of an output directory, computed as DVC does, without importing DVC.

dvc.lock records a directory output as `<md5>.dir`: the MD5 of a JSON list of its files
(`{"md5": ..., "relpath": ...}`, sorted by path, keys sorted) as `dvc_data` writes it. Runs
record this hash (MLflow datasets' digest, a run tag), so a run and a `dvc.lock` entry can be
matched by eye, and two runs on the same data show the same digest. Computing it rather than
reading dvc.lock gives the hash of the data the stage really read, even where dvc.lock is stale
(`traindev train` run by hand, or before `dvc repro` has recorded the stage).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from traindev.data.store import file_md5

DIR_SUFFIX = ".dir"


def directory_md5(directory: Path, known: Mapping[str, str] | None = None) -> str:
    """`<md5>.dir` of every file under `directory`; `known`: MD5s already computed, by
    path relative to `directory` (a stage that hashed its big files already saves a read)."""
    directory = Path(directory)
    known = known or {}
    entries = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        relpath = path.relative_to(directory).as_posix()
        entries.append({"md5": known.get(relpath) or file_md5(path), "relpath": relpath})
    entries.sort(key=lambda entry: entry["relpath"])
    listing = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(listing).hexdigest() + DIR_SUFFIX
