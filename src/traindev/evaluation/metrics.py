"""Per-split classification metrics, computed by scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from traindev.evaluation.weights import weighted_error


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> dict:
    """Error, accuracy and macro precision / recall / F1 (every class counts the same)."""
    if len(y_true) == 0:
        return {"count": 0}
    labels = np.arange(num_classes)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0
    )
    accuracy = float(accuracy_score(y_true, y_pred))
    return {
        "count": len(y_true),
        "error": 1.0 - accuracy,
        "accuracy": accuracy,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def class_errors(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Error among the examples of each true class (1 - recall): the satisficing metric for
    "dev error on class 8 at most x". A class with no examples is left out, not reported as 0."""
    counts = np.bincount(y_true, minlength=len(classes))
    wrong = np.bincount(y_true[y_true != y_pred], minlength=len(classes))
    return {
        name: float(wrong[index] / counts[index])
        for index, name in enumerate(classes)
        if counts[index]
    }


def confusion_table(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Rows are true classes, columns predicted classes; the index is named `label`."""
    matrix = confusion_matrix(y_true, y_pred, labels=np.arange(len(classes)))
    return pd.DataFrame(matrix, index=pd.Index(classes, name="label"), columns=classes)


def split_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, weights: np.ndarray, classes: list[str]
) -> dict:
    """The scikit-learn metrics, the weighted error and the error of each true class."""
    metrics = classification_metrics(y_true, y_pred, len(classes))
    if len(y_true):
        metrics["weighted_error"] = weighted_error(y_true != y_pred, weights)
        metrics["class_error"] = class_errors(y_true, y_pred, classes)
    return metrics
