"""The notes' weighted error: some mistakes cost more than others.

In the notes' cat classifier, letting an unacceptable image through is ten times worse
than any other mistake, so the error metric weights those examples by 10. Here an
example's weight is the LARGEST of the weights that apply to it: its class's weight
(`evaluate.error_weights.classes`) and the weights of its manifest tags
(`evaluate.error_weights.tags`); 1 when none applies.

A tag weight key matches a manifest tag either exactly ("font=DejaVuSerif-Bold" matches
only that font) or by the tag's key, the part before "=" ("font" matches every
"font=..." tag). A tag without "=" ("blurry") is matched by its whole text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd


def check_class_weights(class_weights: Mapping[str, float], classes: Sequence[str]) -> None:
    """Reject class weights for classes the dataset does not have (a silent no-op otherwise)."""
    unknown = [name for name in class_weights if name not in set(classes)]
    if unknown:
        raise ValueError(
            f"evaluate.error_weights.classes.{unknown[0]}: no such class "
            f"(unknown: {unknown}); valid classes are {list(classes)}"
        )


def check_weights(weights: np.ndarray | Sequence[float], size: int) -> np.ndarray:
    """Weights as a float vector of `size` finite positive numbers, or a ValueError saying why."""
    array = np.asarray(weights, dtype=float)
    if array.shape != (size,):
        raise ValueError(f"weights: expected shape ({size},) like wrong, got {array.shape}")
    bad = ~(np.isfinite(array) & (array > 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"weights: must be finite and > 0, row {row} is {array[row]}")
    return array


def _tag_list(tags: object, row: int) -> list[str]:
    """One example's tags; parquet gives arrays, a missing value None or NaN."""
    if tags is None or (isinstance(tags, float) and math.isnan(tags)):
        return []
    if isinstance(tags, str):
        raise ValueError(
            f"tags[{row}]: expected a list of tags like ['font=X'], got the string {tags!r}"
        )
    if not isinstance(tags, Iterable):
        raise ValueError(f"tags[{row}]: expected a list of tags, got {type(tags).__name__}")
    return [str(tag) for tag in tags]


def _tag_weight(tag: str, tag_weights: Mapping[str, float]) -> float | None:
    """The largest tag weight matching `tag` exactly or by its key; None when none matches."""
    matches = [tag_weights[key] for key in {tag, tag.split("=", 1)[0]} if key in tag_weights]
    return max(matches) if matches else None


def _tag_weights(tags: Sequence[object], tag_weights: Mapping[str, float]) -> np.ndarray:
    """Largest matching tag weight per example, NaN where no tag matches."""
    cache: dict[str, float | None] = {}
    result = np.full(len(tags), math.nan)
    for row, entry in enumerate(tags):
        for tag in _tag_list(entry, row):
            if tag not in cache:
                cache[tag] = _tag_weight(tag, tag_weights)
            weight = cache[tag]
            if weight is not None and not weight <= result[row]:  # NaN compares False
                result[row] = weight
    return result


def example_weights(
    labels: Sequence[str] | pd.Series,
    tags: Sequence[Sequence[str]] | pd.Series,
    class_weights: Mapping[str, float],
    tag_weights: Mapping[str, float],
    classes: Sequence[str],
) -> np.ndarray:
    """Each example's weight: the largest of its class weight and its tags' weights (else 1).

    `classes` is the dataset's class list: a class weight for any other name raises a
    ValueError naming `evaluate.error_weights.classes.<name>`.
    """
    check_class_weights(class_weights, classes)
    labels = pd.Series(labels, dtype=object).reset_index(drop=True)
    tags = list(tags)
    if len(tags) != len(labels):
        raise ValueError(
            f"labels and tags must have one entry per example: {len(labels)} != {len(tags)}"
        )
    class_part = labels.map(dict(class_weights)).to_numpy(dtype=float)
    tag_part = _tag_weights(tags, tag_weights) if tag_weights else np.full(len(tags), math.nan)
    weights = np.fmax(class_part, tag_part)  # fmax ignores NaN: "does not apply"
    return np.where(np.isnan(weights), 1.0, weights)


def as_wrong_vector(values: np.ndarray | Sequence[bool], where: str = "wrong") -> np.ndarray:
    """A 1-D bool array (True = misclassified); 0/1 integers pass, other values are a bug."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{where}: expected a 1-D wrong/right vector, got shape {array.shape}")
    if array.dtype != bool:
        if array.size and not np.isin(array, (0, 1)).all():
            raise ValueError(f"{where}: expected booleans or 0/1, got values {np.unique(array)}")
        array = array.astype(bool)
    return array


def weighted_error(wrong: np.ndarray | Sequence[bool], weights: np.ndarray) -> float:
    """sum(weight * wrong) / sum(weight): the error when some mistakes cost more; NaN if empty."""
    wrong = as_wrong_vector(wrong)
    weights = check_weights(weights, wrong.size)
    if wrong.size == 0:
        return math.nan
    return float(weights @ wrong / weights.sum())
