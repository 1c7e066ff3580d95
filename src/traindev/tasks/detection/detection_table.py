"""The evaluate stage's detection table: every kept detection of a detector, one row each.

evaluate writes it (data/evaluation/<arch>/detections.parquet) with the detections down to the
curve threshold; analyze reads it back as `Detections` for TIDE, label issues and the gallery,
so it needs neither the model nor a second forward pass. Its own module so analyze depends on
this, not on prediction and training code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from traindev.tasks.detection.boxes import Detections

COLUMNS = ("row", "id", "detection", "label", "score", "x_min", "y_min", "x_max", "y_max")
BOX_COLUMNS = list(COLUMNS[-4:])


def detection_table(
    rows: np.ndarray, ids: np.ndarray, found: Sequence[Detections], classes: Sequence[str]
) -> pd.DataFrame:
    """Every kept detection, one row each (boxes in pixels, `detection` its index within the
    image, by descending score): what analyze reads back for TIDE and label issues."""
    counts = np.array([len(d.scores) for d in found], dtype=np.int64)
    if counts.sum():
        box = torch.cat([d.boxes.float() for d in found]).numpy()
        scores = torch.cat([d.scores.float() for d in found]).numpy()
        labels = torch.cat([d.classes.long() for d in found]).numpy()
    else:
        box, scores, labels = np.zeros((0, 4), np.float32), np.zeros(0), np.zeros(0, np.int64)
    frame = pd.DataFrame(
        {
            "row": np.repeat(rows, counts),
            "id": np.repeat(ids, counts),
            "detection": np.concatenate([np.arange(c) for c in counts]) if len(counts) else [],
            "label": np.asarray(classes, dtype=object)[labels],
            "score": scores.astype(np.float32),
        }
    )
    for k, name in enumerate(BOX_COLUMNS):
        frame[name] = box[:, k].astype(np.float32)
    return frame[list(COLUMNS)]


def read_detections(table: pd.DataFrame, ids: Sequence[str], classes: Sequence[str]) -> list:
    """The detection table back as one `Detections` per id of `ids` (none: an empty one)."""
    class_index = {name: k for k, name in enumerate(classes)}
    groups = {key: part for key, part in table.groupby("id", sort=False)}
    found = []
    for image in ids:
        part = groups.get(str(image), table.iloc[:0])
        found.append(
            Detections(
                torch.tensor(part[BOX_COLUMNS].to_numpy(np.float32)),
                torch.tensor(part["score"].to_numpy(np.float32)),
                torch.tensor(part["label"].map(class_index).to_numpy(np.int64)),
            )
        )
    return found
