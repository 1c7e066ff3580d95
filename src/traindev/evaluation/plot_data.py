"""The data files behind dvc.yaml's `plots`: learning curves and the dev confusion matrix.

DVC's templates read long tables: `linear` draws one line per column named in `y` against
`x`, and `confusion` counts rows per (actual, predicted) pair. So the curve is one row per
epoch and the confusion data one row per dev example (or per present label). Both are
derived from files the stages already write (training.json's history, the confusion table),
never computed a second way. The report draws its own figures from the same sources; these
files exist so that `dvc plots show` / `dvc plots diff` compare experiments as DVC users
expect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from traindev.records.training import TrainingRecord

CURVE_COLUMNS = ("epoch", "train_error", "train_dev_error", "dev_error")
ACTUAL, PREDICTED = "actual", "predicted"


def learning_curve(training: TrainingRecord) -> pd.DataFrame:
    """One row per epoch trained: the errors measured after it (dvc.yaml plots x: epoch)."""
    rows = [[getattr(epoch, column) for column in CURVE_COLUMNS] for epoch in training.history]
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def confusion_rows(matrix: pd.DataFrame) -> pd.DataFrame:
    """A class-by-class count matrix (index: true class, columns: predicted class) as one
    (actual, predicted) row per counted example, in index then column order."""
    counts = matrix.to_numpy(dtype=np.int64)
    if (counts < 0).any():
        raise ValueError("confusion counts must be >= 0")
    actual = np.repeat(np.repeat(matrix.index.astype(str), counts.shape[1]), counts.ravel())
    predicted = np.repeat(np.tile(matrix.columns.astype(str), counts.shape[0]), counts.ravel())
    return pd.DataFrame({ACTUAL: actual, PREDICTED: predicted})


def label_confusion_rows(counts: pd.DataFrame) -> pd.DataFrame:
    """Multi-label 2x2 counts (index: label; tn fp fn tp) as rows whose labels name the label:
    `<label>` for a positive, `not <label>` for a negative, so each label is its own block."""
    blocks = []
    for label, row in counts.iterrows():
        yes, no = str(label), f"not {label}"
        block = pd.DataFrame(
            [[row["tn"], row["fp"]], [row["fn"], row["tp"]]], index=[no, yes], columns=[no, yes]
        )
        blocks.append(confusion_rows(block))
    if not blocks:
        return pd.DataFrame({ACTUAL: [], PREDICTED: []}, dtype=str)
    return pd.concat(blocks, ignore_index=True)
