"""Bootstrap confidence intervals for the bias / variance table.

A gap of one point between train-dev and dev means little when dev holds 50 images.
The percentile bootstrap says how much each row and gap would move if the splits were
drawn again, so that the diagnosis never calls sampling noise a problem.

The splits are disjoint, independent samples, so each is bootstrapped on its own and
the gaps are combined replicate by replicate. For a 0/1 "wrong" vector the bootstrap
mean is exactly Binomial(n, p_hat) / n, so a replicate costs one binomial draw instead
of resampling n rows: the per-class table of 100 classes over four splits takes a few
milliseconds.

JSON: `Interval.as_dict()` is the list [low, high]; NaN (an empty split) is written as null
by the record it goes into (traindev.records), so the output is strict JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from traindev.data.store import SPLITS
from traindev.evaluation.diagnosis import GAPS, BiasVarianceTable
from traindev.evaluation.weights import as_wrong_vector, check_weights

HUMAN_ROW = "human-level"
# Split names of the store (`train_dev`) -> row names of the notes' table (`train-dev`).
SPLIT_ROWS: dict[str, str] = {split: split.replace("_", "-") for split in SPLITS}
ROWS: tuple[str, ...] = (HUMAN_ROW, *SPLIT_ROWS.values())
# Weighted resampling materializes at most this many (replicate, row) cells at once.
_RESAMPLE_CELLS = 2_000_000


@dataclass(frozen=True)
class Interval:
    """A percentile interval; NaN bounds mean there was no data to bootstrap."""

    low: float
    high: float

    @classmethod
    def exact(cls, value: float) -> Interval:
        """A value known without sampling error, like the human-level row."""
        return cls(float(value), float(value))

    @classmethod
    def empty(cls) -> Interval:
        return cls(math.nan, math.nan)

    @property
    def is_empty(self) -> bool:
        return math.isnan(self.low) or math.isnan(self.high)

    def contains(self, x: float) -> bool:
        """Whether x lies within the bounds (never true for an empty interval or NaN x)."""
        return bool(self.low <= x <= self.high)

    def as_tuple(self) -> tuple[float, float]:
        return (self.low, self.high)

    def as_dict(self) -> list[float]:
        """[low, high]; NaN bounds are written as null by the record (traindev.records)."""
        return [self.low, self.high]


@dataclass(frozen=True)
class TableIntervals:
    """An interval per row of the notes' table and per gap (keys of diagnosis.GAPS)."""

    rows: Mapping[str, Interval]  # "human-level", "train", "train-dev", "dev", "test"
    gaps: Mapping[str, Interval]  # "avoidable_bias", "variance", ...
    confidence: float
    replicates: int

    def row(self, name: str) -> Interval:
        return _lookup(self.rows, name, "row")

    def gap(self, name: str) -> Interval:
        return _lookup(self.gaps, name, "gap")

    def as_dict(self) -> dict:
        return {
            "confidence": self.confidence,
            "replicates": self.replicates,
            "rows": {name: interval.as_dict() for name, interval in self.rows.items()},
            "gaps": {name: interval.as_dict() for name, interval in self.gaps.items()},
        }


def _lookup(intervals: Mapping[str, Interval], name: str, kind: str) -> Interval:
    try:
        return intervals[name]
    except KeyError:
        raise KeyError(f"no {kind} interval called {name!r}; known: {list(intervals)}") from None


@dataclass(frozen=True)
class ClassIntervals:
    """One class's table: errors among the examples whose true label is that class."""

    name: str
    table: BiasVarianceTable
    intervals: TableIntervals
    counts: Mapping[str, int]  # examples of the class per row ("train", "train-dev", ...)
    errors: Mapping[str, int]  # of which misclassified


@dataclass(frozen=True)
class PerClassIntervals:
    """Per-class tables and intervals, in the order of the `classes` argument."""

    classes: tuple[ClassIntervals, ...]
    confidence: float
    replicates: int

    def __getitem__(self, name: str) -> ClassIntervals:
        for entry in self.classes:
            if entry.name == name:
                return entry
        raise KeyError(f"no class {name!r}; known: {[entry.name for entry in self.classes]}")


# ---------------------------------------------------------------------------------------------
# Validation


def _check_settings(replicates: int, confidence: float, human_level_error: float = 0.0) -> None:
    if isinstance(replicates, bool) or not isinstance(replicates, int | np.integer):
        raise TypeError(f"replicates must be an int, got {replicates!r}")
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1 (evaluate.diagnosis), got {replicates}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1) (evaluate.diagnosis), got {confidence}")
    if not 0.0 <= human_level_error <= 1.0:
        raise ValueError(f"human_level_error must be in [0, 1], got {human_level_error}")


def _check_splits(keys: Sequence[str], where: str) -> None:
    unknown = sorted(set(keys) - set(SPLITS))
    if unknown:
        raise ValueError(f"{where}: unknown split(s) {unknown}; splits are {list(SPLITS)}")


# ---------------------------------------------------------------------------------------------
# Binomial bootstrap of many groups at once


def _replicate_rates(
    wrong: np.ndarray, total: np.ndarray, replicates: int, rng: np.random.Generator
) -> np.ndarray:
    """(replicates, groups) bootstrap error rates; NaN columns for groups with no examples."""
    present = total > 0
    rate = np.divide(wrong, total, out=np.zeros(total.shape), where=present)
    draws = rng.binomial(total, rate, size=(replicates, total.size))
    return np.where(present, draws / np.maximum(total, 1), np.nan)


def _percentiles(replicates: np.ndarray, confidence: float) -> np.ndarray:
    """(2, groups) lower / upper percentile bounds; NaN where a group had no data."""
    tail = (1.0 - confidence) / 2.0
    return np.quantile(replicates, [tail, 1.0 - tail], axis=0)


def _grouped_intervals(
    wrong: Mapping[str, np.ndarray],
    total: Mapping[str, np.ndarray],
    human_level_error: float,
    replicates: int,
    confidence: float,
    seed: int,
) -> list[TableIntervals]:
    """TableIntervals for each group, from per-split error and example counts of shape (G,)."""
    rng = np.random.default_rng(seed)
    groups = next(iter(total.values())).size
    rates = {HUMAN_ROW: np.full((replicates, groups), float(human_level_error))}
    for split, row in SPLIT_ROWS.items():  # fixed order: results do not depend on dict order
        rates[row] = _replicate_rates(wrong[split], total[split], replicates, rng)
    row_bounds = {row: _percentiles(rates[row], confidence) for row in ROWS if row != HUMAN_ROW}
    gap_bounds = {
        spec.name: _percentiles(rates[spec.upper] - rates[spec.lower], confidence) for spec in GAPS
    }
    return [
        TableIntervals(
            rows={
                HUMAN_ROW: Interval.exact(human_level_error),
                **{row: Interval(*map(float, b[:, g])) for row, b in row_bounds.items()},
            },
            gaps={name: Interval(*map(float, b[:, g])) for name, b in gap_bounds.items()},
            confidence=confidence,
            replicates=replicates,
        )
        for g in range(groups)
    ]


# ---------------------------------------------------------------------------------------------
# Public API


def table_intervals(
    wrong_by_split: Mapping[str, np.ndarray],
    human_level_error: float,
    replicates: int,
    confidence: float,
    seed: int,
) -> TableIntervals:
    """Percentile intervals for every row and gap of the bias / variance table.

    `wrong_by_split` maps split names of the store ("train", "train_dev", "dev", "test") to
    a bool vector (True = misclassified). A split that is missing or empty gets a NaN
    interval, and so does every gap that touches it.
    """
    _check_settings(replicates, confidence, human_level_error)
    _check_splits(list(wrong_by_split), "wrong_by_split")
    vectors = {
        split: as_wrong_vector(wrong_by_split.get(split, ()), f"wrong_by_split[{split!r}]")
        for split in SPLITS
    }
    wrong = {split: np.array([int(v.sum())]) for split, v in vectors.items()}
    total = {split: np.array([v.size]) for split, v in vectors.items()}
    return _grouped_intervals(wrong, total, human_level_error, replicates, confidence, seed)[0]


def row_counts(split: np.ndarray) -> dict[str, int]:
    """Examples per row of the table ("train", "train-dev", ...) from store split names."""
    split = np.asarray(split)
    return {row: int((split == name).sum()) for name, row in SPLIT_ROWS.items()}


def error_interval(
    wrong: np.ndarray | Sequence[bool], replicates: int, confidence: float, seed: int
) -> Interval:
    """Percentile interval of one error rate (NaN when there are no examples)."""
    _check_settings(replicates, confidence)
    vector = as_wrong_vector(wrong, "wrong")
    rates = _replicate_rates(
        np.array([vector.sum()]), np.array([vector.size]), replicates, np.random.default_rng(seed)
    )
    low, high = _percentiles(rates, confidence)[:, 0]
    return Interval(float(low), float(high))


def per_class_intervals(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    split: np.ndarray,
    classes: Sequence[str],
    human_level_error: float,
    replicates: int,
    confidence: float,
    seed: int,
) -> PerClassIntervals:
    """Each class's bias / variance table (errors among its true examples) with intervals.

    `y_true` / `y_pred` index into `classes`; `split` holds a store split name per example.
    A class absent from a split gets NaN for that row. Counts come from np.bincount and
    each split costs one binomial draw of shape (replicates, n_classes).
    """
    _check_settings(replicates, confidence, human_level_error)
    y_true, y_pred, split = _per_class_inputs(y_true, y_pred, split, len(classes))
    n_classes = len(classes)
    total, wrong = {}, {}
    for name in SPLITS:
        mask = split == name
        total[name] = np.bincount(y_true[mask], minlength=n_classes)
        wrong[name] = np.bincount(y_true[mask & (y_true != y_pred)], minlength=n_classes)
    intervals = _grouped_intervals(wrong, total, human_level_error, replicates, confidence, seed)
    entries = tuple(
        _class_entry(str(name), index, wrong, total, human_level_error, intervals[index])
        for index, name in enumerate(classes)
    )
    return PerClassIntervals(entries, confidence, replicates)


def _per_class_inputs(
    y_true: np.ndarray, y_pred: np.ndarray, split: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_true, y_pred, split = np.asarray(y_true), np.asarray(y_pred), np.asarray(split)
    if not (y_true.ndim == y_pred.ndim == split.ndim == 1) or not (
        y_true.size == y_pred.size == split.size
    ):
        raise ValueError(
            "y_true, y_pred and split must be 1-D and of equal length, got shapes "
            f"{y_true.shape}, {y_pred.shape}, {split.shape}"
        )
    for where, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{where}: expected class indices (integers), got {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(
                f"{where}: class indices must be in 0..{n_classes - 1} (len(classes)), "
                f"got {labels.min()}..{labels.max()}"
            )
    _check_splits(np.unique(split).tolist(), "split")
    return y_true.astype(np.intp), y_pred.astype(np.intp), split


def _class_entry(
    name: str,
    index: int,
    wrong: Mapping[str, np.ndarray],
    total: Mapping[str, np.ndarray],
    human_level_error: float,
    intervals: TableIntervals,
) -> ClassIntervals:
    counts = {split: int(total[split][index]) for split in SPLITS}
    errors = {split: int(wrong[split][index]) for split in SPLITS}
    table = BiasVarianceTable(
        human_level_error=float(human_level_error),
        **{
            f"{split}_error": errors[split] / counts[split] if counts[split] else math.nan
            for split in SPLITS
        },
    )
    return ClassIntervals(
        name,
        table,
        intervals,
        counts={SPLIT_ROWS[split]: count for split, count in counts.items()},
        errors={SPLIT_ROWS[split]: count for split, count in errors.items()},
    )


def weighted_error_interval(
    wrong: np.ndarray | Sequence[bool],
    weights: np.ndarray | Sequence[float],
    replicates: int,
    confidence: float,
    seed: int,
) -> Interval:
    """Percentile interval of sum(weight * wrong) / sum(weight) (NaN with no examples).

    Rows carry different weights, so a replicate is a real resample of the rows. Rows are
    first grouped by their (weight, wrong) value: weights come from a few configured
    numbers, so there are usually a handful of groups and a multinomial draw over them is
    an exact resample in O(replicates * groups). With many distinct weights the rows are
    resampled in chunks, so memory stays bounded whatever the number of replicates.
    """
    _check_settings(replicates, confidence)
    vector = as_wrong_vector(wrong, "wrong")
    weight = check_weights(weights, vector.size)
    if vector.size == 0:
        return Interval.empty()
    rng = np.random.default_rng(seed)
    groups, counts = np.unique(np.stack([weight, vector]), axis=1, return_counts=True)
    if groups.shape[1] * 16 <= vector.size:
        estimates = _multinomial_replicates(groups[0], groups[1], counts, replicates, rng)
    else:
        estimates = _resampled_replicates(weight, vector, replicates, rng)
    low, high = _percentiles(estimates, confidence)
    return Interval(float(low), float(high))


def _multinomial_replicates(
    weight: np.ndarray,
    wrong: np.ndarray,
    counts: np.ndarray,
    replicates: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Weighted error of each replicate, resampling rows as counts of (weight, wrong) groups."""
    draws = rng.multinomial(counts.sum(), counts / counts.sum(), size=replicates)
    return (draws @ (weight * wrong)) / (draws @ weight)


def _resampled_replicates(
    weight: np.ndarray, wrong: np.ndarray, replicates: int, rng: np.random.Generator
) -> np.ndarray:
    """Weighted error of each replicate, resampling row indices a chunk of replicates at a time."""
    n = weight.size
    chunk = max(1, _RESAMPLE_CELLS // n)
    weighted_wrong = weight * wrong
    estimates = np.empty(replicates)
    for start in range(0, replicates, chunk):
        stop = min(start + chunk, replicates)
        rows = rng.integers(0, n, size=(stop - start, n))
        estimates[start:stop] = weighted_wrong[rows].sum(axis=1) / weight[rows].sum(axis=1)
    return estimates


def paired_difference_interval(
    wrong_a: np.ndarray | Sequence[bool],
    wrong_b: np.ndarray | Sequence[bool],
    replicates: int,
    confidence: float,
    seed: int,
) -> Interval:
    """Percentile interval of error(a) - error(b), two models scored on the same rows.

    Paired: a replicate resamples rows, and both models' outcomes on a row move together,
    so the many rows both get right or both get wrong add no noise. That is much tighter
    than two independent intervals when the models agree on most rows. A row's difference
    is -1, 0 or +1, so a resample is exactly one multinomial draw over those three counts.
    """
    _check_settings(replicates, confidence)
    a = as_wrong_vector(wrong_a, "wrong_a")
    b = as_wrong_vector(wrong_b, "wrong_b")
    if a.size != b.size:
        raise ValueError(f"paired rows differ in number: {a.size} against {b.size}")
    if a.size == 0:
        return Interval.empty()
    counts = np.array([(a & ~b).sum(), (b & ~a).sum(), (a == b).sum()])
    draws = np.random.default_rng(seed).multinomial(a.size, counts / a.size, size=replicates)
    low, high = _percentiles((draws[:, 0] - draws[:, 1]) / a.size, confidence)
    return Interval(float(low), float(high))
