"""Segmentation errors typed per pixel, counted per image and class, with their ceilings.

Every wrong pixel (prediction != truth, truth not `ignore_index`) gets exactly one type, the
first that applies:

1. `confusion`: truth and prediction are two different object classes (neither background);
2. `missed`: the truth is an object whose connected component of its class matches the
   prediction of that class (the predicted components touching it) below `object_iou`;
3. `false_object`: the truth is background and the pixel lies in a predicted component of an
   object class that matches the truth of that class below `object_iou`;
4. `boundary`: within `boundary_width` pixels (Chebyshev) of a change of class in the truth;
5. `interior`: the rest (holes in, or bleeding from, a matched object away from its edge).

A pixel's class is its true class, or the predicted one where the truth is background. The
ceiling of a type is the split's mean IoU gained by replacing its pixels with the truth: what
fixing all of those errors, and nothing else, could buy (chapter 3's ceiling analysis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from traindev.tasks.segmentation.metrics import class_confusion, iou_from_confusion
from traindev.tasks.segmentation.params import ErrorTypeParams

ERROR_TYPES = ["confusion", "missed", "false_object", "boundary", "interior"]
COUNT_COLUMNS = ["image", "class", "type", "pixels"]


@dataclass(frozen=True)
class SegmentationErrors:
    """Typed errors of a split: per-pixel codes, counts and the ceilings."""

    types: np.ndarray  # uint8 (N, H, W): 0 correct or ignored, k = ERROR_TYPES[k - 1]
    counts: pd.DataFrame  # COUNT_COLUMNS, one row per image, class and type with pixels
    mean_iou: float  # the split's mean IoU as predicted
    ceilings: dict[str, float]  # type -> mean IoU gained by fixing its pixels


def split_mean_iou(
    predictions: np.ndarray, truth: np.ndarray, num_classes: int, ignore_index: int | None
) -> float:
    """Mean over present classes of the split's IoU (as `metrics.segmentation_metrics`)."""
    confusion = class_confusion(predictions, truth, num_classes, ignore_index).sum(0)
    iou = iou_from_confusion(confusion)
    return float(np.nanmean(iou)) if (~np.isnan(iou)).any() else float("nan")


def boundary_band(truth: np.ndarray, width: int) -> np.ndarray:
    """bool (H, W): pixels with a different true value within `width` pixels (Chebyshev)."""
    if width == 0:
        return np.zeros(truth.shape, bool)
    size = 2 * width + 1
    return ndimage.maximum_filter(truth, size, mode="nearest") != ndimage.minimum_filter(
        truth, size, mode="nearest"
    )


def _unmatched(objects: np.ndarray, other: np.ndarray, threshold: float) -> np.ndarray:
    """bool mask of the components of `objects` matching `other`'s touching components below
    `threshold` IoU (each component against the union of the components it touches)."""
    components, count = ndimage.label(objects)
    if count == 0:
        return np.zeros(objects.shape, bool)
    other_components, _ = ndimage.label(other)
    unmatched = np.zeros(count + 1, bool)
    for index in range(1, count + 1):
        mine = components == index
        touched = np.unique(other_components[mine])
        theirs = np.isin(other_components, touched[touched > 0])
        union = (mine | theirs).sum()
        unmatched[index] = (mine & theirs).sum() < threshold * union
    return unmatched[components]


def type_image(
    prediction: np.ndarray,
    truth: np.ndarray,
    num_classes: int,
    background: int,
    ignore_index: int | None,
    params: ErrorTypeParams,
) -> np.ndarray:
    """uint8 (H, W) type codes of one image (module docstring)."""
    wrong = prediction != truth
    if ignore_index is not None:
        wrong &= truth != ignore_index
    codes = np.zeros(truth.shape, np.uint8)
    if not wrong.any():
        return codes
    free = wrong.copy()

    def assign(mask: np.ndarray, name: str) -> None:
        chosen = free & mask
        codes[chosen] = ERROR_TYPES.index(name) + 1
        free[chosen] = False

    true_object = (truth != background) & (truth != (-1 if ignore_index is None else ignore_index))
    predicted_object = prediction != background
    assign(true_object & predicted_object, "confusion")
    missed = np.zeros(truth.shape, bool)
    false = np.zeros(truth.shape, bool)
    for cls in range(num_classes):
        if cls == background:
            continue
        truth_c, prediction_c = truth == cls, prediction == cls
        if truth_c.any():
            missed |= _unmatched(truth_c, prediction_c, params.object_iou)
        if prediction_c.any():
            false |= _unmatched(prediction_c, truth_c, params.object_iou)
    assign(missed & true_object, "missed")
    assign(false & ~true_object, "false_object")
    assign(boundary_band(truth, params.boundary_width), "boundary")
    assign(np.ones(truth.shape, bool), "interior")
    return codes


def segmentation_errors(
    predictions: np.ndarray,
    truth: np.ndarray,
    classes: list[str],
    background: int,
    ignore_index: int | None,
    params: ErrorTypeParams,
) -> SegmentationErrors:
    """Typed errors, counts per (image, class, type) and each type's ceiling on mean IoU."""
    num_classes = len(classes)
    types = (
        np.stack(
            [
                type_image(p, t, num_classes, background, ignore_index, params)
                for p, t in zip(predictions, truth, strict=True)
            ]
        )
        if len(truth)
        else np.zeros(np.shape(truth), np.uint8)
    )
    pixel_class = np.where(truth == background, predictions, truth)
    rows = []
    image, y, x = np.nonzero(types)
    if len(image):
        key = pd.DataFrame(
            {"image": image, "class": pixel_class[image, y, x], "type": types[image, y, x]}
        )
        grouped = key.value_counts().rename("pixels").reset_index()
        grouped["class"] = [classes[c] for c in grouped["class"]]
        grouped["type"] = [ERROR_TYPES[t - 1] for t in grouped["type"]]
        rows.append(grouped.sort_values(["image", "class", "type"], ignore_index=True))
    counts = rows[0][COUNT_COLUMNS] if rows else pd.DataFrame(columns=COUNT_COLUMNS)
    base = split_mean_iou(predictions, truth, num_classes, ignore_index)
    ceilings = {}
    for code, name in enumerate(ERROR_TYPES, start=1):
        fixed = np.where(types == code, truth, predictions)
        ceilings[name] = split_mean_iou(fixed, truth, num_classes, ignore_index) - base
    return SegmentationErrors(types=types, counts=counts, mean_iou=base, ceilings=ceilings)
