"""A held-out set scored by a real (imperfect, somewhat overconfident) classifier, with
label errors planted at a known rate: the data the label-alarm calibration is tested on."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression


def scored_held_out(
    per_class: int, classes: int, spread: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, out-of-sample probabilities) of Gaussian blobs in 8 dimensions.

    `spread` is the blobs' standard deviation: larger means a model of higher error. The
    classifier is fitted on a separate draw, so its probabilities are out-of-sample.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, size=(classes, 8))

    def draw() -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(classes), per_class)
        return centres[labels] + rng.normal(0.0, spread, size=(len(labels), 8)), labels

    train_x, train_y = draw()
    held_x, held_y = draw()
    model = LogisticRegression(C=100.0, max_iter=2000).fit(train_x, train_y)
    return held_y, model.predict_proba(held_x)


def planted_errors(labels: np.ndarray, rate: float, classes: int, seed: int) -> np.ndarray:
    """A copy of `labels` with round(rate * N) of them moved to another class."""
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    flipped = rng.choice(len(labels), size=round(rate * len(labels)), replace=False)
    noisy[flipped] = (noisy[flipped] + rng.integers(1, classes, len(flipped))) % classes
    return noisy
