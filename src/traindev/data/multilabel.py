"""Multi-label targets from the manifest: a column `label.<name>` per label, 1 / 0 / missing.

An image may be labelled for some labels only (the notes' example: pedestrians marked,
stop signs not); a missing cell becomes NaN and is masked out of the loss and the error.
Stores without the column at all (e.g. a synthetic pool) are missing for every image.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from traindev.data.store import MANIFEST_FILE, DataContractError, ImageStore

LABEL_PREFIX = "label."
_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}


def label_column(label: str) -> str:
    return f"{LABEL_PREFIX}{label}"


def multilabel_targets(
    store: ImageStore, labels: list[str], rows: np.ndarray | None = None
) -> np.ndarray:
    """(rows, labels) float32: 1.0, 0.0 or NaN (no label)."""
    where = (store.path / MANIFEST_FILE) if store.path else "the manifest"
    missing = [label_column(label) for label in labels if label_column(label) not in store.manifest]
    if missing:
        raise DataContractError(
            f"{where}: train.multilabel names {labels} but the manifest has no column(s) "
            f"{missing}; add a column {LABEL_PREFIX}<label> with 1 / 0 / empty per image "
            "(formerly task.<label>), or remove the label"
        )
    manifest = store.manifest if rows is None else store.manifest.iloc[rows]
    return np.stack(
        [_binary(manifest[label_column(label)], manifest["id"], where) for label in labels], axis=1
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
                "a label is 1, 0 or empty (not labelled)"
            )
    return values
