"""An image folder `<root>/<domain>/<class>/<file>`: each domain folder is a distribution.

Files below a class folder are taken at any depth. Hidden files and folders (a leading
dot: `.DS_Store`, `.ipynb_checkpoints`) are ignored; every other file that is not an image
of a supported format, is not inside a class folder, or sits in a class folder that holds
no image at all, is a problem reported with its path.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from traindev.data.sources.candidates import FRAME_COLUMNS, META_PREFIX, Candidates
from traindev.data.sources.decode import SUFFIXES
from traindev.data.sources.problems import BadInputError, Problem


def scan_folder(root: Path) -> Candidates:
    """Every image file under `root`, sorted by (domain, class, path), and the problems."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(
            f"ingest.root: {root} is not a folder; point it at <root>/<domain>/<class>/<file>"
        )
    rows: list[tuple[str, str, str, str]] = []
    problems: list[Problem] = []
    for domain_dir in _visible(root):
        if not domain_dir.is_dir():
            problems.append(_outside(root, domain_dir, "<root>/<domain>/<class>/"))
            continue
        class_dirs = _visible(domain_dir)
        if not class_dirs:
            problems.append(Problem(_rel(root, domain_dir), "", "empty domain folder"))
        for class_dir in class_dirs:
            if not class_dir.is_dir():
                problems.append(_outside(root, class_dir, f"{domain_dir.name}/<class>/"))
                continue
            found = 0
            domain, label = domain_dir.name, class_dir.name
            for file, where in _files_below(root, class_dir):
                suffix = os.path.splitext(where)[1]
                if suffix.lower() not in SUFFIXES:
                    problems.append(Problem(where, file, _unsupported_suffix(suffix)))
                    continue
                rows.append((file, where, domain, label))
                found += 1
            if not found:
                problems.append(
                    Problem(
                        _rel(root, class_dir),
                        "",
                        "empty class folder (no image files); add images or remove the folder",
                    )
                )
    columns = zip(*rows, strict=True) if rows else [()] * 4
    files, wheres, domains, labels = (list(column) for column in columns)
    tags = np.empty(len(rows), dtype=object)  # pandas infers shapes from a list of lists
    for index in range(len(tags)):
        tags[index] = []
    # One constructor call: adding columns one by one to a frame of string columns costs a
    # slow generic Index.insert each (25 ms for 16,000 files).
    frame = pd.DataFrame(
        dict(
            zip(
                [*FRAME_COLUMNS, f"{META_PREFIX}path"],
                [files, wheres, domains, labels, tags, wheres],
                strict=True,
            )
        )
    )
    return Candidates(frame, f"folder:{root.name}", str(root), problems)


def _visible(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if not entry.name.startswith("."))


def _files_below(root: Path, folder: Path) -> list[tuple[str, str]]:
    """(path, path relative to root with /) of the visible files below `folder`, sorted.

    Plain strings, not Path objects: a scan of a large folder would otherwise spend longer
    building paths than listing them."""
    found = []
    skip = len(str(root)) + 1
    for parent, dirs, files in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        prefix = parent[skip:].replace(os.sep, "/")
        head = parent + os.sep  # os.walk's parents never end with a separator
        found += [
            (head + name, f"{prefix}/{name}") for name in sorted(files) if not name.startswith(".")
        ]
    return found


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _outside(root: Path, path: Path, expected: str) -> Problem:
    return Problem(
        _rel(root, path),
        str(path),
        f"file outside a class folder; images go in {expected}",
    )


def _unsupported_suffix(suffix: str) -> str:
    return f"unsupported format {suffix or '(no suffix)'}; supported: {' '.join(sorted(SUFFIXES))}"
