"""Box tables and predictions for the detection evaluation tests, built by hand or seeded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from traindev.tasks.detection.box_table import box_frame
from traindev.tasks.detection.boxes import Detections


def box_table(objects: Sequence[tuple[str, str, Sequence[float]]]) -> pd.DataFrame:
    """The box table of (image id, class name, (x_min, y_min, x_max, y_max)) objects."""
    seen: dict[str, int] = {}
    index = []
    for image, _, _ in objects:
        index.append(seen.get(image, 0))
        seen[image] = index[-1] + 1
    return box_frame(
        [image for image, _, _ in objects],
        index,
        [label for _, label, _ in objects],
        np.array([box for _, _, box in objects], dtype=np.float32),
    )


def detections(*items: tuple[Sequence[float], float, int]) -> Detections:
    """One image's predictions from (box, score, class index) triples."""
    if not items:
        return Detections.empty()
    boxes, scores, classes = zip(*items, strict=True)
    return as_detections(np.array(boxes), np.array(scores), np.array(classes))


def as_detections(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> Detections:
    """numpy arrays as the tensors decode() returns (float boxes and scores, int64 classes)."""
    return Detections(
        torch.as_tensor(boxes, dtype=torch.float64),
        torch.as_tensor(scores, dtype=torch.float64),
        torch.as_tensor(classes, dtype=torch.int64),
    )


def jittered_set(
    images: int, classes: Sequence[str], seed: int
) -> tuple[pd.DataFrame, list[Detections], list[str]]:
    """Seeded objects on 64x64 canvases and a plausible detector's output: jittered boxes,
    some wrong classes, duplicates, misses and background boxes, scores loosely tied to IoU."""
    rng = np.random.default_rng(seed)
    ids = [f"img{i:04d}" for i in range(images)]
    objects, predictions = [], []
    for image in ids:
        count = int(rng.integers(0, 5))
        xy = rng.uniform(0, 44, (count, 2))
        wh = rng.uniform(6, 20, (count, 2))
        boxes = np.column_stack([xy, np.minimum(xy + wh, 64)])
        labels = rng.integers(0, len(classes), count)
        objects += [(image, classes[k], b) for k, b in zip(labels, boxes, strict=True)]
        kept = rng.random(count) > 0.15
        shown = boxes[kept] + rng.normal(0, 1.5, (int(kept.sum()), 4))
        shown_labels = np.where(
            rng.random(len(shown)) < 0.1, rng.integers(0, len(classes), len(shown)), labels[kept]
        )
        duplicates = shown[rng.random(len(shown)) < 0.2] + rng.normal(0, 3, (1, 4))
        background = rng.uniform(0, 50, (int(rng.integers(0, 2)), 2))
        background = np.column_stack([background, background + 10])
        pred_boxes = np.concatenate([shown, duplicates, background])
        pred_classes = np.concatenate(
            [
                shown_labels,
                rng.integers(0, len(classes), len(duplicates)),
                rng.integers(0, len(classes), len(background)),
            ]
        )
        pred_boxes[:, 2:] = np.maximum(pred_boxes[:, 2:], pred_boxes[:, :2] + 1)  # valid boxes
        scores = np.concatenate(
            [
                rng.uniform(0.4, 1.0, len(shown)),
                rng.uniform(0.05, 0.7, len(pred_boxes) - len(shown)),
            ]
        )
        predictions.append(as_detections(pred_boxes, scores, pred_classes))
    return box_table(objects), predictions, ids
