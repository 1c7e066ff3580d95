"""Ground truth and predictions as the detection metrics, TIDE and cleanlab read them.

The box table (one row per object, class names) and a model's decoded predictions (per image a
`boxes.Detections`: boxes, scores, class indices) are turned once into flat numpy
arrays indexed by image position, so every evaluator sees the same images in the same order:
the order of `image_ids`, which is the order of the per-image error array the five-row table
and the bootstrap consume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from traindev.tasks.detection.box_table import COORDINATES


def image_arrays(prediction: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's boxes (K, 4), scores (K,) and classes (K,) as float64 / int64 numpy arrays,
    from a `boxes.Detections`, any (boxes, scores, classes) triple or a mapping with those keys,
    holding torch tensors or numpy arrays."""
    if isinstance(prediction, Mapping):
        prediction = (prediction["boxes"], prediction["scores"], prediction["classes"])
    boxes, scores, classes = (_numpy(part) for part in prediction)
    boxes = boxes.astype(np.float64).reshape(-1, 4)
    scores = scores.astype(np.float64).reshape(-1)
    classes = classes.astype(np.int64).reshape(-1)
    if not len(boxes) == len(scores) == len(classes):
        raise ValueError(
            f"predictions of one image disagree in length: {len(boxes)} boxes, "
            f"{len(scores)} scores, {len(classes)} classes"
        )
    return boxes, scores, classes


def _numpy(value: Any) -> np.ndarray:
    """A tensor (any device; float16 / bfloat16 widened, numpy has no bfloat16) or array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return (value.double() if value.is_floating_point() else value).numpy()
    return np.asarray(value)


@dataclass(frozen=True)
class EvaluationSet:
    """Truth and predictions of a set of images, flattened; `*_image` columns index images.

    Truth rows keep the box table's `object` index so an error can name the object it is about.
    """

    image_ids: tuple[str, ...]
    classes: tuple[str, ...]
    truth_image: np.ndarray  # (G,) int64
    truth_class: np.ndarray  # (G,) int64
    truth_object: np.ndarray  # (G,) int64, the box table's `object`
    truth_boxes: np.ndarray  # (G, 4) float64
    pred_image: np.ndarray  # (D,) int64
    pred_index: np.ndarray  # (D,) int64, position within its image's predictions
    pred_class: np.ndarray  # (D,) int64
    pred_score: np.ndarray  # (D,) float64
    pred_boxes: np.ndarray  # (D, 4) float64

    @property
    def images(self) -> int:
        return len(self.image_ids)

    def truth_of(self, image: int) -> np.ndarray:
        """Row positions of one image's true objects (truth is sorted by image)."""
        return np.arange(*np.searchsorted(self.truth_image, [image, image + 1]))

    def predictions_of(self, image: int) -> np.ndarray:
        """Row positions of one image's predictions (sorted by image)."""
        return np.arange(*np.searchsorted(self.pred_image, [image, image + 1]))

    def subset(self, keep: np.ndarray) -> EvaluationSet:
        """The same evaluation over the images where `keep` (bool, per image) is true."""
        keep = np.asarray(keep, dtype=bool)
        new_index = np.cumsum(keep) - 1
        truth = keep[self.truth_image]
        pred = keep[self.pred_image]
        return EvaluationSet(
            image_ids=tuple(np.asarray(self.image_ids, dtype=object)[keep]),
            classes=self.classes,
            truth_image=new_index[self.truth_image[truth]],
            truth_class=self.truth_class[truth],
            truth_object=self.truth_object[truth],
            truth_boxes=self.truth_boxes[truth],
            pred_image=new_index[self.pred_image[pred]],
            pred_index=self.pred_index[pred],
            pred_class=self.pred_class[pred],
            pred_score=self.pred_score[pred],
            pred_boxes=self.pred_boxes[pred],
        )


def evaluation_set(
    box_table: pd.DataFrame,
    predictions: Sequence[Any],
    image_ids: Sequence[str],
    classes: Sequence[str],
) -> EvaluationSet:
    """Join the box table and per-image predictions (aligned with `image_ids`).

    Objects of images not in `image_ids` are left out (the table may cover every split); a class
    name the class list does not know, or a predicted class index outside it, is an error.
    """
    image_ids = tuple(str(i) for i in image_ids)
    classes = tuple(classes)
    if len(predictions) != len(image_ids):
        raise ValueError(f"{len(predictions)} predictions for {len(image_ids)} images")
    position = pd.Series(np.arange(len(image_ids)), index=pd.Index(image_ids))
    if not position.index.is_unique:
        raise ValueError("image ids repeat")
    rows = box_table[box_table["id"].astype(str).isin(position.index)]
    class_index = pd.Series(np.arange(len(classes)), index=pd.Index(classes))
    unknown = sorted(set(rows["label"]) - set(classes))
    if unknown:
        raise ValueError(f"box table labels not in the class list: {unknown}")
    truth_image = position.loc[rows["id"].astype(str)].to_numpy(np.int64)
    order = np.lexsort((rows["object"].to_numpy(), truth_image))
    rows = rows.iloc[order]

    per_image = [image_arrays(p) for p in predictions]
    counts = np.array([len(scores) for _, scores, _ in per_image], dtype=np.int64)
    pred_class = _concat([classes for _, _, classes in per_image], np.int64, (0,))
    if len(pred_class) and (pred_class.min() < 0 or pred_class.max() >= len(classes)):
        raise ValueError(f"predicted class index outside 0..{len(classes) - 1}")
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    truth_boxes = rows[COORDINATES].to_numpy(np.float64).reshape(-1, 4)
    pred_boxes = _concat([boxes for boxes, _, _ in per_image], np.float64, (0, 4))
    for name, boxes in (("true", truth_boxes), ("predicted", pred_boxes)):
        inverted = (boxes[:, 2:] < boxes[:, :2]).any(axis=1)
        if inverted.any():
            raise ValueError(
                f"{int(inverted.sum())} {name} boxes have x_max < x_min or y_max < y_min, "
                f"e.g. {boxes[inverted][0].tolist()}"
            )
    return EvaluationSet(
        image_ids=image_ids,
        classes=classes,
        truth_image=truth_image[order],
        truth_class=class_index.loc[rows["label"]].to_numpy(np.int64),
        truth_object=rows["object"].to_numpy(np.int64),
        truth_boxes=truth_boxes,
        pred_image=np.repeat(np.arange(len(image_ids), dtype=np.int64), counts),
        pred_index=np.arange(int(counts.sum()), dtype=np.int64) - starts,
        pred_class=pred_class,
        pred_score=_concat([scores for _, scores, _ in per_image], np.float64, (0,)),
        pred_boxes=pred_boxes,
    )


def _concat(parts: list[np.ndarray], dtype: type, empty: tuple[int, ...]) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(empty, dtype)
