"""Multi-task labels from the manifest: a column `task.<name>` per task, 1 / 0 / missing.

An image may be labelled for some tasks only (the notes' example: pedestrians marked,
stop signs not); a missing cell becomes NaN and is masked out of the loss and the error.
Stores without the column at all (e.g. a synthetic pool) are missing for every image.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from traindev.data.store import MANIFEST_FILE, DataContractError, ImageStore

TASK_PREFIX = "task."
_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}


def task_column(task: str) -> str:
    return f"{TASK_PREFIX}{task}"


def task_targets(store: ImageStore, tasks: list[str], rows: np.ndarray | None = None) -> np.ndarray:
    """(rows, tasks) float32: 1.0, 0.0 or NaN (no label)."""
    where = (store.path / MANIFEST_FILE) if store.path else "the manifest"
    missing = [task_column(task) for task in tasks if task_column(task) not in store.manifest]
    if missing:
        raise DataContractError(
            f"{where}: train.tasks names {tasks} but the manifest has no column(s) {missing}; "
            f"add a column {TASK_PREFIX}<task> with 1 / 0 / empty per image, or remove the task"
        )
    manifest = store.manifest if rows is None else store.manifest.iloc[rows]
    return np.stack(
        [_binary(manifest[task_column(task)], manifest["id"], where) for task in tasks], axis=1
    ).astype(np.float32)


def _binary(column: pd.Series, ids: pd.Series, where: object) -> np.ndarray:
    values = np.full(len(column), np.nan, dtype=np.float32)
    for position, cell in enumerate(column.tolist()):
        if cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NA:
            continue
        text = str(cell).strip().lower()
        if text in _TRUE:
            values[position] = 1.0
        elif text in _FALSE:
            values[position] = 0.0
        elif text:
            raise DataContractError(
                f"{where}: column {column.name!r}, image {ids.iloc[position]!r} has {cell!r}; "
                "a task label is 1, 0 or empty (not labelled)"
            )
    return values
