"""Per-split segmentation metrics from torchmetrics, and the per-image error.

Split level (torchmetrics, accumulated over chunks of images so memory stays bounded): pixel
accuracy (micro), IoU and Dice per class, their means over the classes present in the split's
truth or prediction (a class absent from both has no IoU: NaN, left out of the mean, as
torchmetrics' `zero_division=nan`). Dice of a class is its pixel F1, which equals
2 IoU / (1 + IoU) exactly (both count the same true / false positives and negatives), so it is
derived from torchmetrics' IoU rather than counted in a third pass over the pixels; a test pins
it against torchmetrics' F1.

Per image (the five-row table's unit): error = 1 - the image's mean IoU over the classes present
in its truth or its prediction, so a perfect mask scores 0 and a mask sharing no pixel with the
truth scores 1; an image whose pixels are all `ignore_index` scores 0. Counted from one
(image, truth, prediction) histogram per chunk; tests pin it against torchmetrics image by image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

CHUNK = 64  # images per update: bounds the one-hot / histogram memory


@dataclass(frozen=True)
class SegmentationMetrics:
    """One split's metrics; `class_iou` / `class_dice` are NaN for classes absent in it."""

    classes: list[str]
    pixel_accuracy: float
    class_iou: np.ndarray  # (C,)
    mean_iou: float
    class_dice: np.ndarray  # (C,)
    mean_dice: float
    image_error: np.ndarray  # (N,) float, 1 - each image's mean IoU

    def as_dict(self) -> dict[str, float]:
        """Flat figures for MLflow / DVC metrics (absent classes left out)."""
        figures = {
            "pixel_accuracy": self.pixel_accuracy,
            "mean_iou": self.mean_iou,
            "mean_dice": self.mean_dice,
            "error": float(self.image_error.mean()) if len(self.image_error) else 0.0,
        }
        for name, iou, dice in zip(self.classes, self.class_iou, self.class_dice, strict=True):
            if not np.isnan(iou):
                figures[f"iou/{name}"] = float(iou)
                figures[f"dice/{name}"] = float(dice)
        return figures


def _tensor(masks: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(masks)).long()


def class_confusion(
    predictions: np.ndarray, truth: np.ndarray, num_classes: int, ignore_index: int | None
) -> np.ndarray:
    """(N, C, C) pixel counts [image, true class, predicted class], ignored pixels left out."""
    truth = np.asarray(truth).reshape(len(truth), -1)
    predictions = np.asarray(predictions).reshape(len(predictions), -1)
    counts = np.zeros((len(truth), num_classes, num_classes), np.int64)
    for start in range(0, len(truth), CHUNK):
        t = truth[start : start + CHUNK].astype(np.int64)
        p = predictions[start : start + CHUNK].astype(np.int64)
        image = np.arange(len(t))[:, None]
        keep = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
        if ((t[keep] >= num_classes) | (p[keep] >= num_classes) | (p[keep] < 0)).any():
            raise ValueError(f"mask values outside 0..{num_classes - 1} (and ignore_index)")
        index = ((image * num_classes + t) * num_classes + p)[keep]
        counts[start : start + len(t)] = np.bincount(
            index, minlength=len(t) * num_classes**2
        ).reshape(len(t), num_classes, num_classes)
    return counts


def iou_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-class IoU (..., C) from confusion (..., C, C); NaN where a class has no pixel."""
    true_positive = np.diagonal(confusion, axis1=-2, axis2=-1).astype(np.float64)
    union = confusion.sum(-1) + confusion.sum(-2) - true_positive
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, true_positive / np.maximum(union, 1), np.nan)


def image_errors(
    predictions: np.ndarray, truth: np.ndarray, num_classes: int, ignore_index: int | None
) -> np.ndarray:
    """1 - each image's mean IoU over the classes in its truth or prediction; (N,) float."""
    iou = iou_from_confusion(class_confusion(predictions, truth, num_classes, ignore_index))
    present = ~np.isnan(iou)
    mean = np.where(present, iou, 0.0).sum(1) / np.maximum(present.sum(1), 1)
    return np.where(present.any(1), 1.0 - mean, 0.0)


def segmentation_metrics(
    predictions: np.ndarray, truth: np.ndarray, classes: list[str], ignore_index: int | None
) -> SegmentationMetrics:
    """A split's metrics: predicted and true index masks (N, H, W) of the same shape."""
    if np.shape(predictions) != np.shape(truth):
        raise ValueError(f"predictions {np.shape(predictions)} and truth {np.shape(truth)} differ")
    num_classes = len(classes)
    options = {"num_classes": num_classes, "ignore_index": ignore_index, "validate_args": False}
    jaccard = MulticlassJaccardIndex(average="none", zero_division=float("nan"), **options)
    accuracy = MulticlassAccuracy(average="micro", **options)
    for start in range(0, len(truth), CHUNK):
        p = _tensor(predictions[start : start + CHUNK])
        t = _tensor(truth[start : start + CHUNK])
        for metric in (jaccard, accuracy):
            metric.update(p, t)
    class_iou = jaccard.compute().double().numpy()
    class_dice = 2 * class_iou / (1 + class_iou)
    present = ~np.isnan(class_iou)
    return SegmentationMetrics(
        classes=list(classes),
        pixel_accuracy=float(accuracy.compute()),
        class_iou=class_iou,
        mean_iou=float(class_iou[present].mean()) if present.any() else float("nan"),
        class_dice=class_dice,
        mean_dice=float(class_dice[present].mean()) if present.any() else float("nan"),
        image_error=image_errors(predictions, truth, num_classes, ignore_index),
    )
