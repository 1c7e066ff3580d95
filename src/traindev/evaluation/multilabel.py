"""Evaluation of a multi-label model: a sigmoid per label, scored only where a label is present.

Course 3, week 2: one network predicts several independent yes / no labels, and an image
may be labelled for some labels only. A missing label (NaN in `multilabel_targets`) is neither
right nor wrong, so every figure here counts the present (example, label) labels alone:

- `error` pools every present label of a split, so the bias / variance table, its bootstrap
  intervals and `select`'s `dev.error` read exactly as for a softmax model;
- `label_error`, `label_count` and per-label precision / recall / F1 say which label is behind it.

The pooled bootstrap treats each label as an independent draw; labels of one image are
correlated, so the intervals are somewhat narrower than an example-level bootstrap's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import precision_recall_fscore_support
from torch import nn

from traindev.config import DiagnosisParams
from traindev.data.multilabel import label_column
from traindev.data.store import SPLITS, ImageStore
from traindev.evaluation.bootstrap import SPLIT_ROWS, TableIntervals, table_intervals
from traindev.evaluation.diagnosis import (
    BiasVarianceTable,
    ClassDiagnosis,
    Diagnosis,
    diagnose,
)
from traindev.evaluation.predict import predict_outputs

THRESHOLD = 0.5  # a label is predicted "yes" when its sigmoid reaches this
PROBABILITY_PREFIX = "probability."
CONFUSION_COLUMNS = ("tn", "fp", "fn", "tp")


def probability_column(label: str) -> str:
    """The predictions.parquet column holding the model's probability for `label`."""
    return f"{PROBABILITY_PREFIX}{label}"


def predict_label_probabilities(
    model: nn.Module,
    store: ImageStore,
    device: torch.device,
    batch_size: int,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """(len(rows), outputs) sigmoid probabilities, in the order of `rows` (default: all).

    The multi-label twin of `predict.predict_probabilities`: each output is its own yes / no
    question, so the outputs are not normalized against each other as a softmax would.
    """
    return predict_outputs(model, store, device, batch_size, rows, torch.sigmoid, 0)


def check_label_arrays(
    targets: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]
) -> None:
    """Both (examples, labels); targets 1 / 0 / NaN, probabilities within [0, 1]."""
    expected = (len(targets), len(labels))
    if targets.ndim != 2 or targets.shape[1] != len(labels):
        raise ValueError(f"targets must be (examples, {len(labels)} labels), got {targets.shape}")
    if probabilities.shape != expected:
        raise ValueError(
            f"probabilities are {probabilities.shape} but targets are {expected} for labels "
            f"{list(labels)}: the model's outputs do not match its label list; re-run `dvc repro`"
        )
    present = targets[~np.isnan(targets)]
    if not np.isin(present, (0.0, 1.0)).all():
        raise ValueError(f"label targets must be 1, 0 or NaN, got {np.unique(present)[:5]}")
    if np.isnan(probabilities).any() or (probabilities < 0).any() or (probabilities > 1).any():
        raise ValueError("label probabilities must lie within [0, 1] (sigmoid outputs)")


def label_wrong(targets: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """(examples, labels) bool: a present label the thresholded prediction gets wrong."""
    present = ~np.isnan(targets)
    return present & ((probabilities >= THRESHOLD) != (targets == 1.0))


def pooled_wrong(targets: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """1-D bool over every present (example, label) label: the vector the bootstrap resamples."""
    return label_wrong(targets, probabilities)[~np.isnan(targets)]


def label_split_metrics(
    targets: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]
) -> dict:
    """One split's figures: pooled error over present labels, and each label's own.

    `count` is the number of present labels (the error's denominator) and `examples` the
    number of images. Labels without a label in this split have a `label_count` of 0 and are
    left out of the other per-label maps, as a class with no examples is; precision / recall /
    F1 at the top level are the macro average over the labels that have labels.
    """
    check_label_arrays(targets, probabilities, labels)
    present = ~np.isnan(targets)
    counts = present.sum(axis=0)
    metrics: dict = {
        "count": int(counts.sum()),
        "examples": len(targets),
        "label_count": {label: int(count) for label, count in zip(labels, counts, strict=True)},
    }
    if not counts.sum():
        return metrics
    wrong = label_wrong(targets, probabilities)
    per_label = {
        label: _label_scores(targets[present[:, j], j], probabilities[present[:, j], j])
        for j, label in enumerate(labels)
        if counts[j]
    }
    error = float(wrong.sum() / counts.sum())
    metrics |= {
        "error": error,
        "accuracy": 1.0 - error,
        **{
            name: float(np.mean([scores[name] for scores in per_label.values()]))
            for name in ("precision", "recall", "f1")
        },
        "label_error": {label: scores["error"] for label, scores in per_label.items()},
        "label_positives": {label: scores["positives"] for label, scores in per_label.items()},
        **{
            f"label_{name}": {label: scores[name] for label, scores in per_label.items()}
            for name in ("precision", "recall", "f1")
        },
    }
    return metrics


def _label_scores(truth: np.ndarray, probability: np.ndarray) -> dict:
    """Error and scikit-learn's binary precision / recall / F1 of one label's present labels."""
    y_true = truth.astype(np.int64)
    y_pred = (probability >= THRESHOLD).astype(np.int64)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=[1], average="binary", pos_label=1, zero_division=0
    )
    return {
        "error": float(np.mean(y_true != y_pred)),
        "positives": int(y_true.sum()),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def label_confusion(
    targets: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]
) -> pd.DataFrame:
    """Per label, the 2x2 confusion counts of its present labels: index `label`, tn fp fn tp."""
    check_label_arrays(targets, probabilities, labels)
    present = ~np.isnan(targets)
    truth, predicted = targets == 1.0, probabilities >= THRESHOLD
    counts = {
        "tn": present & ~truth & ~predicted,
        "fp": present & ~truth & predicted,
        "fn": present & truth & ~predicted,
        "tp": present & truth & predicted,
    }
    return pd.DataFrame(
        {name: cells.sum(axis=0).astype(np.int64) for name, cells in counts.items()},
        index=pd.Index(list(labels), name="label"),
    )[list(CONFUSION_COLUMNS)]


@dataclass(frozen=True)
class MultiLabelEvaluation:
    """Everything the evaluate stage writes for a multi-label model."""

    per_split: dict[str, dict]
    table: BiasVarianceTable
    intervals: TableIntervals
    diagnosis: Diagnosis
    per_label: list[dict]  # one diagnosis per label, for diagnosis.json
    confusion_dev: pd.DataFrame


def evaluate_labels(
    targets: np.ndarray,
    probabilities: np.ndarray,
    split: np.ndarray,
    labels: Sequence[str],
    human_level_error: float,
    settings: DiagnosisParams,
) -> MultiLabelEvaluation:
    """Per-split metrics, the pooled bias / variance diagnosis and one diagnosis per label."""
    check_label_arrays(targets, probabilities, labels)
    if len(split) != len(targets):
        raise ValueError(f"{len(split)} split names for {len(targets)} examples")
    per_split = {
        name: label_split_metrics(targets[split == name], probabilities[split == name], labels)
        for name in SPLITS
    }
    wrong = label_wrong(targets, probabilities)
    present = ~np.isnan(targets)
    pooled = {name: wrong[split == name][present[split == name]] for name in SPLITS}
    table, intervals, diagnosis = _diagnose(pooled, human_level_error, settings)
    per_label = []
    for j, label in enumerate(labels):
        vectors = {name: wrong[split == name, j][present[split == name, j]] for name in SPLITS}
        label_table, _, label_diagnosis = _diagnose(vectors, human_level_error, settings)
        counts = _row_counts(vectors)
        # The per-class record's shape (errors, gaps, dominant), keyed by label instead.
        record = ClassDiagnosis(label, label_table, counts, label_diagnosis).as_dict()
        per_label.append({"label": record.pop("class"), **record})
    dev = split == "dev"
    return MultiLabelEvaluation(
        per_split=per_split,
        table=table,
        intervals=intervals,
        diagnosis=diagnosis,
        per_label=per_label,
        confusion_dev=label_confusion(targets[dev], probabilities[dev], labels),
    )


def _diagnose(
    wrong_by_split: dict[str, np.ndarray], human_level_error: float, settings: DiagnosisParams
) -> tuple[BiasVarianceTable, TableIntervals, Diagnosis]:
    """The notes' table, its bootstrap intervals and the diagnosis, from 0/1 wrong vectors.

    Rows with fewer than `min_examples` labels claim no interval and their gaps are not
    judged, as in the single-label tables: a label present on four dev images would
    otherwise bootstrap to a zero-width interval and lead the diagnosis.
    """
    table = BiasVarianceTable(
        human_level_error=human_level_error,
        **{
            f"{name}_error": float(vector.mean()) if vector.size else float("nan")
            for name, vector in wrong_by_split.items()
        },
    )
    intervals = table_intervals(
        wrong_by_split,
        human_level_error,
        settings.bootstrap_replicates,
        settings.confidence,
        settings.seed,
    )
    return table, intervals, diagnose(table, settings, intervals, _row_counts(wrong_by_split))


def _row_counts(wrong_by_split: dict[str, np.ndarray]) -> dict[str, int]:
    """Labels per table row ("train", "train-dev", ...): what `diagnose` checks for too few."""
    return {SPLIT_ROWS[name]: int(vector.size) for name, vector in wrong_by_split.items()}


def prediction_columns(
    targets: np.ndarray, probabilities: np.ndarray, labels: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per label, its label (`label.<name>`: 1.0 / 0.0 / NaN) and probability columns."""
    columns: dict[str, np.ndarray] = {}
    for j, label in enumerate(labels):
        columns[label_column(label)] = targets[:, j].astype(np.float32)
        columns[probability_column(label)] = probabilities[:, j].astype(np.float32)
    return columns


def read_label_predictions(
    predictions: pd.DataFrame, labels: Sequence[str], where: object
) -> tuple[np.ndarray, np.ndarray]:
    """(targets, probabilities) back from predictions.parquet, as `prediction_columns` wrote."""
    wanted = [name for label in labels for name in (label_column(label), probability_column(label))]
    missing = [name for name in wanted if name not in predictions.columns]
    if missing:
        raise ValueError(
            f"{where}: no column(s) {missing} for labels {list(labels)}; the predictions were "
            "written for another model: re-run `dvc repro` to evaluate this one"
        )
    targets = predictions[[label_column(label) for label in labels]].to_numpy(np.float32)
    probabilities = predictions[[probability_column(label) for label in labels]].to_numpy(
        np.float32
    )
    return targets, probabilities
