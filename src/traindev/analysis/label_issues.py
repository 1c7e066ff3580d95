"""Incorrectly labeled data (course 3, week 2): which labels look wrong, and does it matter?

`suspect_label_issues` asks cleanlab (confident learning) which given labels disagree with
the model's predicted probabilities. Those probabilities must be out-of-sample: on the
examples a model was trained on it has fitted (and memorized) the given labels, wrong ones
included, so its confidence there hides exactly the errors we look for. That is why the
check runs on dev and test by default, never on train with the model's own predictions;
`train_label_issues` is the optional train check, made out-of-sample by K-fold
cross-validation of a linear probe on the model's penultimate features.

`label_error_impact` is the notes' arithmetic: the share of dev errors explained by
suspected label errors decides whether fixing labels is worth the effort (0.6% of a 10%
error is 6% of errors, a low priority; 0.6% of a 2% error is 30% of errors, worth it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# Softmax outputs computed in float32 sum to 1 within ~1e-6; anything further off is not a
# probability row (logits, or a wrong axis), and cleanlab would silently misread it.
ROW_SUM_TOLERANCE = 1e-3
# lbfgs on standardized features converges in well under this on penultimate activations.
PROBE_MAX_ITER = 1000


@dataclass(frozen=True, eq=False)
class LabelIssues:
    """Suspected label errors, most suspicious first (rank 1).

    `rows` are positions in the arrays that were passed in (not store rows unless the caller
    passed store-ordered arrays). cleanlab flags conservatively (its estimate of how many
    labels are wrong can fall short when there are few errors per class pair), so the
    quality score of every checked row is kept as well: sorting by it is the full ranking.
    Labels are class indices; pass `classes` to the exports to get class names too.
    """

    rows: np.ndarray  # int64 positions of the flagged rows, ranked
    ids: tuple[str, ...]
    quality: np.ndarray  # cleanlab self-confidence: predicted probability of the given label
    given: np.ndarray  # int64 given labels
    suggested: np.ndarray  # int64 argmax of the predicted probabilities
    checked: np.ndarray  # int64 positions examined (all rows, or the train check's sample)
    scores: np.ndarray  # quality score of every checked row, in `checked` order
    note: str = ""  # how the check departed from what was asked (e.g. fewer folds)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def examined(self) -> int:
        return len(self.checked)

    @property
    def rank(self) -> np.ndarray:
        return np.arange(1, len(self.rows) + 1, dtype=np.int64)

    def mask(self, size: int | None = None) -> np.ndarray:
        """(size,) bool, True at suspected positions: the input of `label_error_impact`.

        `size` defaults to `examined`; pass the full length when only a sample was checked.
        """
        suspected = np.zeros(self.examined if size is None else size, dtype=bool)
        suspected[self.rows] = True
        return suspected

    def quality_column(self, size: int | None = None) -> np.ndarray:
        """(size,) quality score per position, NaN where a row was not checked (sheet column)."""
        column = np.full(self.examined if size is None else size, np.nan)
        column[self.checked] = self.scores
        return column

    def as_frame(self, classes: Sequence[str] | None = None) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "rank": self.rank,
                "row": self.rows,
                "id": list(self.ids),
                "quality": self.quality,
                "given": self.given,
                "suggested": self.suggested,
            }
        )
        if classes is not None:
            names = np.asarray(list(classes), dtype=object)
            frame["given_class"] = names[self.given]
            frame["suggested_class"] = names[self.suggested]
        return frame

    def as_dict(self, classes: Sequence[str] | None = None, top: int | None = None) -> dict:
        """JSON-ready summary; `top` keeps only the first `top` issues (all by default)."""
        records = self.as_frame(classes).head(top if top is not None else len(self))
        return {
            "examined": int(self.examined),
            "suspected": len(self),
            "suspected_share": len(self) / self.examined if self.examined else 0.0,
            "note": self.note,
            "issues": [_plain(record) for record in records.to_dict(orient="records")],
        }


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars -> Python scalars, so json.dumps takes the record."""
    return {
        key: value.item() if isinstance(value, np.generic) else value
        for key, value in record.items()
    }


def suspect_label_issues(
    labels: np.ndarray, probabilities: np.ndarray, ids: Sequence[str]
) -> LabelIssues:
    """Rows whose given label cleanlab finds unlikely under out-of-sample probabilities.

    Use predictions the model did not train on (dev, test, or out-of-fold): see the module
    docstring. n_jobs=1 because cleanlab's multiprocessing costs more than it saves here.
    """
    ids = list(ids)  # positional, even for a pandas Series with its own index
    labels, probabilities = _checked_inputs(labels, probabilities, ids)
    ranked = find_label_issues(
        labels,
        probabilities,
        return_indices_ranked_by="self_confidence",
        n_jobs=1,
    ).astype(np.int64)
    quality = get_label_quality_scores(labels, probabilities, method="self_confidence")
    return LabelIssues(
        rows=ranked,
        ids=tuple(str(ids[row]) for row in ranked),
        quality=np.asarray(quality, dtype=np.float64)[ranked],
        given=labels[ranked],
        suggested=probabilities[ranked].argmax(axis=1).astype(np.int64),
        checked=np.arange(len(labels), dtype=np.int64),
        scores=np.asarray(quality, dtype=np.float64),
    )


def _checked_inputs(
    labels: np.ndarray, probabilities: np.ndarray, ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Validated (labels int64, row-normalized float64 probabilities); ValueError otherwise."""
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if labels.ndim != 1 or probabilities.ndim != 2:
        raise ValueError(
            f"label issues: labels must be 1-D and probabilities 2-D (N, K), got shapes "
            f"{labels.shape} and {probabilities.shape}"
        )
    count, num_classes = probabilities.shape
    if len(labels) != count or len(ids) != count:
        raise ValueError(
            f"label issues: {len(labels)} labels, {count} probability rows and {len(ids)} ids; "
            "all three must describe the same examples"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"label issues: labels must be class indices (int), got {labels.dtype}")
    if count < num_classes:
        raise ValueError(
            f"label issues: {count} examples for {num_classes} classes; cleanlab needs at least "
            "as many examples as classes (check a larger split)"
        )
    outside = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(outside):
        raise ValueError(
            f"label issues: row {outside[0]} has label {labels[outside[0]]}, outside "
            f"0..{num_classes - 1} (the probability columns)"
        )
    _check_probability_rows(probabilities)
    present = np.unique(labels)
    if len(present) < 2:
        raise ValueError(
            f"label issues: only class {present.tolist()} is present among the given labels; "
            "finding label errors needs at least 2 classes"
        )
    return labels.astype(np.int64), probabilities / probabilities.sum(axis=1, keepdims=True)


def _check_probability_rows(probabilities: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(probabilities).all(axis=1) | (probabilities < 0).any(axis=1))
    if len(bad):
        raise ValueError(
            f"label issues: probability row {bad[0]} has negative or non-finite values "
            f"({probabilities[bad[0]][:5].tolist()}...); pass softmax outputs, not logits"
        )
    sums = probabilities.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    if len(off):
        raise ValueError(
            f"label issues: probability row {off[0]} sums to {sums[off[0]]:.6f}, not 1 "
            f"(tolerance {ROW_SUM_TOLERANCE}); pass softmax outputs over the class axis"
        )


@dataclass(frozen=True)
class LabelErrorImpact:
    """How much of the dev error suspected label errors explain, and whether to fix them."""

    split: str
    examples: int
    suspected: int
    dev_error: float
    error_from_labels: float  # misclassified AND suspected, over all examples
    error_other: float
    share_of_errors: float  # error_from_labels / dev_error (0 when there is no error)
    error_without_suspected: float | None  # error on rows not suspected (None if all are)
    worth_fixing_share: float
    worth_fixing: bool
    sentence: str
    # False when the model errs too often for its disagreements with a label to mean much.
    reliable: bool = True

    def as_dict(self) -> dict:
        return {
            "split": self.split,
            "examples": self.examples,
            "suspected": self.suspected,
            "dev_error": self.dev_error,
            "error_from_labels": self.error_from_labels,
            "error_other": self.error_other,
            "share_of_errors": self.share_of_errors,
            "error_without_suspected": self.error_without_suspected,
            "worth_fixing_share": self.worth_fixing_share,
            "worth_fixing": self.worth_fixing,
            "sentence": self.sentence,
            "reliable": self.reliable,
        }


def label_error_impact(
    misclassified: np.ndarray,
    suspected: np.ndarray,
    worth_fixing_share: float,
    split: str = "dev",
    max_model_error: float | None = None,
) -> LabelErrorImpact:
    """The notes' decision: fix labels when they explain at least `worth_fixing_share` of errors.

    Shares are ratios of counts, so 6 of 100 errors is exactly 6% (no float drift at the
    threshold). Confident learning trusts the model more than the labels: above
    `max_model_error` most "suspects" are the model's own mistakes, so the verdict is
    withheld and the sentence says to improve the model first.
    """
    misclassified = _bool_vector(misclassified, "misclassified")
    suspected = _bool_vector(suspected, "suspected")
    if len(misclassified) != len(suspected):
        raise ValueError(
            f"label error impact: misclassified has {len(misclassified)} rows but suspected has "
            f"{len(suspected)}; both must cover the same {split} examples"
        )
    if len(misclassified) == 0:
        raise ValueError(f"label error impact: no {split} examples to measure")
    if not 0.0 <= worth_fixing_share <= 1.0:
        raise ValueError(
            f"label_issues.worth_fixing_share must be in [0, 1], got {worth_fixing_share}"
        )
    count = len(misclassified)
    errors = int(misclassified.sum())
    from_labels = int((misclassified & suspected).sum())
    unsuspected = int((~suspected).sum())
    share = from_labels / errors if errors else 0.0
    reliable = max_model_error is None or errors / count <= max_model_error
    worth = errors > 0 and share >= worth_fixing_share and reliable
    sentence = _impact_sentence(split, errors / count, from_labels / count, share, worth)
    if not reliable:
        sentence = (
            f"{sentence.split(':')[0]}; but at {errors / count:.2%} {split} error (above "
            f"{max_model_error:.0%}) most suspects are likely the model's own mistakes: "
            "improve the model first, then look at labels again"
        )
    return LabelErrorImpact(
        split=split,
        examples=count,
        suspected=int(suspected.sum()),
        dev_error=errors / count,
        error_from_labels=from_labels / count,
        error_other=(errors - from_labels) / count,
        share_of_errors=share,
        error_without_suspected=(
            int((misclassified & ~suspected).sum()) / unsuspected if unsuspected else None
        ),
        worth_fixing_share=float(worth_fixing_share),
        worth_fixing=worth,
        sentence=sentence,
        reliable=reliable,
    )


def _bool_vector(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"label error impact: {name} must be 1-D, got shape {array.shape}")
    if array.dtype != bool and not np.isin(array, (0, 1)).all():
        raise ValueError(f"label error impact: {name} must be boolean, got {array.dtype} values")
    return array.astype(bool)


def _impact_sentence(
    split: str, error: float, from_labels: float, share: float, worth: bool
) -> str:
    if error == 0:
        return f"no {split} errors: nothing to gain from fixing labels"
    verdict = "worth fixing the suspected labels" if worth else "fixing labels is not the priority"
    return (
        f"{from_labels:.2%} of the {error:.2%} {split} error ({share:.0%} of errors) comes from "
        f"suspected label errors, {error - from_labels:.2%} from other causes: {verdict}"
    )


def train_label_issues(
    features: np.ndarray,
    labels: np.ndarray,
    ids: Sequence[str],
    folds: int,
    seed: int,
    max_examples: int,
) -> LabelIssues:
    """Suspected training-label errors from out-of-fold probabilities of a linear probe.

    The network fitted the training labels, so its own train predictions cannot expose
    them; a logistic regression on its penultimate features, cross-validated, predicts each
    sampled row without having seen its label. It finds systematic errors best (the notes:
    random train errors matter little, systematic ones do). Rows are positions in `features`.
    """
    ids = list(ids)  # positional, even for a pandas Series with its own index
    features, labels = _checked_features(features, labels, ids)
    sample = _seeded_sample(len(labels), max_examples, seed)
    present, compact = np.unique(labels[sample], return_inverse=True)
    usable = _usable_folds(compact, present, folds)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=PROBE_MAX_ITER))
    splitter = StratifiedKFold(n_splits=usable, shuffle=True, random_state=seed)
    probabilities = cross_val_predict(
        probe, features[sample], compact, cv=splitter, method="predict_proba"
    )
    found = suspect_label_issues(compact, probabilities, [str(ids[row]) for row in sample])
    return LabelIssues(
        rows=sample[found.rows],
        ids=found.ids,
        quality=found.quality,
        given=present[found.given].astype(np.int64),
        suggested=present[found.suggested].astype(np.int64),
        checked=sample,
        scores=found.scores,
        note=_sample_note(len(sample), len(labels), usable, folds, present, compact),
    )


def _sample_note(
    sampled: int, count: int, usable: int, folds: int, present: np.ndarray, compact: np.ndarray
) -> str:
    """Say what the check actually did when it is not what the params asked for."""
    parts = []
    if sampled < count:
        parts.append(f"checked a seeded sample of {sampled} of {count} training examples")
    if usable < folds:
        smallest = present[np.bincount(compact).argmin()]
        parts.append(
            f"{usable}-fold instead of {folds}-fold: class {smallest} has only {usable} "
            "examples in the sample"
        )
    return "; ".join(parts)


def _checked_features(
    features: np.ndarray, labels: np.ndarray, ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or labels.ndim != 1 or not len(features) == len(labels) == len(ids):
        raise ValueError(
            f"train label issues: features must be (N, D) with N labels and N ids, got "
            f"features {features.shape}, labels {labels.shape}, {len(ids)} ids"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"train label issues: labels must be class indices (int), got {labels.dtype}"
        )
    if not np.isfinite(features).all():
        row = int(np.flatnonzero(~np.isfinite(features).all(axis=1))[0])
        raise ValueError(f"train label issues: feature row {row} is not finite")
    return features, labels


def _seeded_sample(count: int, max_examples: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded sample of at most `max_examples` rows."""
    if max_examples < 1:
        raise ValueError(f"label_issues.train_max_examples must be >= 1, got {max_examples}")
    if count <= max_examples:
        return np.arange(count, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(count, size=max_examples, replace=False)).astype(np.int64)


def _usable_folds(compact: np.ndarray, present: np.ndarray, folds: int) -> int:
    """`folds`, lowered to the smallest class's size; every fold needs each class to train on."""
    if folds < 2:
        raise ValueError(f"label_issues.train_folds must be >= 2 for the train check, got {folds}")
    sizes = np.bincount(compact, minlength=len(present))
    if len(present) < 2:
        raise ValueError(
            f"train label issues: only class {present.tolist()} is in the sample; "
            "finding label errors needs at least 2 classes"
        )
    singletons = present[sizes < 2]
    if len(singletons):
        raise ValueError(
            f"train label issues: class(es) {singletons.tolist()} have a single example in the "
            "sample, too few for out-of-fold predictions; raise "
            "label_issues.train_max_examples or add examples of those classes"
        )
    return int(min(folds, sizes.min()))
