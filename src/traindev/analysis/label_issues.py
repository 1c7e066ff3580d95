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

A suspect is not a label error: a model that errs confidently is flagged on correct labels
too, so on a clean set the raw share of "errors from suspected labels" is mostly the
model's own mistakes. `false_suspects` measures that false-alarm count (how many suspects a
model of this error rate flags when every label is right) and the verdict counts only the
suspects beyond it, with an interval, so a share sitting on the threshold reads as
"uncertain" rather than flipping between "worth fixing" and "not the priority".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

# Softmax outputs computed in float32 sum to 1 within ~1e-6; anything further off is not a
# probability row (logits, or a wrong axis), and cleanlab would silently misread it.
ROW_SUM_TOLERANCE = 1e-3
# lbfgs on standardized features converges in well under this on penultimate activations.
PROBE_MAX_ITER = 1000
# The temperature search of the clean-label simulation: log-temperature bounds and the
# fixed-point rounds that separate the model's own errors from label errors.
LOG_TEMPERATURE_BOUNDS = (np.log(0.02), np.log(100.0))
BISECTION_STEPS = 60
FIXED_POINT_ROUNDS = 10


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
    from cleanlab.filter import find_label_issues  # here: only where label issues run
    from cleanlab.rank import get_label_quality_scores

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


@dataclass(frozen=True, eq=False)
class FalseSuspects:
    """How many suspects the check raises when every label is right (the false-alarm count).

    Simulated: each replicate draws labels from the model's own temperature-calibrated
    probabilities (a world where every label is what a model of this confidence expects)
    and runs the same cleanlab check on them. The temperature is fitted on labels the
    checked ones do not influence (train-dev: its error equals the expected error there);
    calibrating on the checked labels themselves would spread their label errors over the
    model's confident rows and call them "expected". Without such rows it falls back to a
    fixed point on the checked rows (observed error minus the estimated label errors),
    which underestimates label errors when the model is very confident. `counts` are per
    replicate and position group: column 0 all examined rows, column 1 the `focus` rows
    (e.g. dev) where the simulated label disagrees with the model's prediction.
    """

    counts: np.ndarray  # (replicates, 2) int64
    observed: int  # suspects the real check found among all examined rows
    temperature: float
    confidence: float
    calibrated_on: str  # the rows the temperature was fitted on

    @property
    def expected(self) -> float:
        return float(self.counts[:, 0].mean())

    def interval(self, column: int = 0) -> tuple[float, float]:
        tail = (1.0 - self.confidence) / 2
        low, high = np.quantile(self.counts[:, column], [tail, 1.0 - tail])
        return float(low), float(high)

    @property
    def excess(self) -> float:
        """Suspects beyond the false alarms: the estimated number of wrong labels."""
        return max(0.0, self.observed - self.expected)

    def as_dict(self) -> dict:
        low, high = self.interval()
        return {
            "replicates": len(self.counts),
            "temperature": self.temperature,
            "observed": self.observed,
            "expected": self.expected,
            "low": low,
            "high": high,
            "label_errors": self.excess,
            "confidence": self.confidence,
            "calibrated_on": self.calibrated_on,
        }


def false_suspects(
    labels: np.ndarray,
    probabilities: np.ndarray,
    observed: int,
    focus: np.ndarray,
    settings: tuple[int, float, int],
    calibration: tuple[np.ndarray, np.ndarray, str] | None = None,
) -> FalseSuspects:
    """The false-alarm count of `suspect_label_issues` for this model, with its spread.

    `observed` is how many suspects the real check found on these rows; `focus` (bool,
    one per row) marks the rows whose false alarms are counted separately (dev);
    `settings` is (replicates, confidence, seed); `calibration` is (labels, probabilities,
    name) of held-out rows outside the check (train-dev). The replicates share one seeded
    set of uniform draws, so the result is deterministic.
    """
    replicates, confidence, seed = settings
    labels, probabilities = _checked_inputs(labels, probabilities, [""] * len(labels))
    if replicates < 1:
        raise ValueError(f"label_issues.null_replicates must be >= 1, got {replicates}")
    focus = np.asarray(focus, dtype=bool)
    count = len(labels)
    uniforms = np.random.default_rng(seed).random((replicates, count, 1))
    if calibration is not None:
        held_labels, held_probabilities, name = calibration
        error = float(np.mean(np.asarray(held_probabilities).argmax(axis=1) != held_labels))
        temperature = _temperature_for_error(np.asarray(held_probabilities, float), error)
        counts = _simulate(labels, probabilities, focus, uniforms, temperature)
        return FalseSuspects(counts, int(observed), temperature, confidence, name)
    observed_error = float(np.mean(probabilities.argmax(axis=1) != labels))
    model_error = observed_error
    for _ in range(FIXED_POINT_ROUNDS):
        temperature = _temperature_for_error(probabilities, model_error)
        counts = _simulate(labels, probabilities, focus, uniforms, temperature)
        excess = max(0.0, observed - counts[:, 0].mean())
        updated = max(0.0, observed_error - excess / count)
        if abs(updated - model_error) < 0.5 / count:
            break
        model_error = updated
    return FalseSuspects(counts, int(observed), temperature, confidence, "the checked rows")


def _simulate(
    labels: np.ndarray,
    probabilities: np.ndarray,
    focus: np.ndarray,
    uniforms: np.ndarray,
    temperature: float,
) -> np.ndarray:
    """(replicates, 2) suspects on labels drawn from the tempered probabilities."""
    from cleanlab.filter import find_label_issues

    predicted = probabilities.argmax(axis=1)
    cumulative = _tempered(probabilities, temperature).cumsum(axis=1)
    counts = np.zeros((len(uniforms), 2), dtype=np.int64)
    for replicate, draws in enumerate(uniforms):
        simulated = np.minimum((draws > cumulative).sum(axis=1), probabilities.shape[1] - 1)
        flagged = find_label_issues(simulated, probabilities, n_jobs=1)
        counts[replicate] = flagged.sum(), (flagged & focus & (simulated != predicted)).sum()
    return counts


def _tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exponentials = np.exp(logits)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def _temperature_for_error(probabilities: np.ndarray, error: float) -> float:
    """The temperature at which the expected error, mean(1 - max p), equals `error`.

    It grows monotonically with the temperature, so bisection on log T finds it; an error
    outside the reachable range gets the nearest bound.
    """

    def gap(log_t: float) -> float:
        return float(np.mean(1.0 - _tempered(probabilities, np.exp(log_t)).max(axis=1))) - error

    low, high = LOG_TEMPERATURE_BOUNDS
    if gap(low) >= 0:
        return float(np.exp(low))
    if gap(high) <= 0:
        return float(np.exp(high))
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        low, high = (low, middle) if gap(middle) > 0 else (middle, high)
    return float(np.exp((low + high) / 2))


def share_interval(count: float, total: int, confidence: float) -> tuple[float, float]:
    """Wilson interval of `count` of `total` errors: the share is a proportion of a finite
    number of errors, so 10 of 100 is not known to be 10% (about 5% to 17%)."""
    from scipy.stats import norm

    if total == 0:
        return 0.0, 0.0
    z = float(norm.ppf(0.5 + confidence / 2))
    share = min(max(count, 0.0), total) / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    half /= 1 + z * z / total
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


Verdict = Literal["none", "unreliable", "worth_fixing", "uncertain", "not_priority"]
VERDICT_TEXT = {
    "worth_fixing": "worth fixing the suspected labels",
    "not_priority": "fixing labels is not the priority",
    "uncertain": "uncertain whether fixing labels pays off (the interval spans the "
    "{threshold:.0%} threshold): view the top suspects before relabelling",
}


@dataclass(frozen=True)
class LabelErrorImpact:
    """How much of the dev error suspected label errors explain, and whether to fix them.

    `share_of_errors` is the raw share (every misclassified suspect counted as a label
    error); `label_errors` and `share_low` / `share_high` discount the suspects a model of
    this error rate flags on correct labels, and the verdict reads the interval.
    """

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
    # Misclassified suspects a clean-label model would raise anyway: mean and interval.
    false_suspects: float = 0.0
    false_suspects_low: float = 0.0
    false_suspects_high: float = 0.0
    label_errors: float = 0.0  # misclassified suspects beyond the false alarms
    share_low: float = 0.0  # of errors that are label errors, interval at `confidence`
    share_high: float = 0.0
    confidence: float = 0.95
    verdict: Verdict = "none"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def label_error_impact(
    misclassified: np.ndarray,
    suspected: np.ndarray,
    worth_fixing_share: float,
    split: str = "dev",
    max_model_error: float | None = None,
    false_alarms: FalseSuspects | None = None,
    confidence: float = 0.95,
) -> LabelErrorImpact:
    """The notes' decision: fix labels when they explain at least `worth_fixing_share` of errors.

    Counted are the misclassified suspects beyond the false alarms (`false_alarms`, its
    column 1 for these rows; none: every suspect counts), and the decision needs the whole
    interval of that share on one side of the threshold: "worth fixing" when its low end
    reaches it, "not the priority" when its high end stays below, "uncertain" otherwise, so
    a share on the boundary never flips the advice. Confident learning trusts the model more
    than the labels: above `max_model_error` most "suspects" are the model's own mistakes,
    so the verdict is withheld and the sentence says to improve the model first.
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
    expected, low, high = 0.0, 0.0, 0.0
    if false_alarms is not None:
        expected = float(false_alarms.counts[:, 1].mean())
        low, high = false_alarms.interval(1)
    label_errors = max(0.0, from_labels - expected)
    share_low = share_interval(from_labels - high, errors, confidence)[0]
    share_high = share_interval(from_labels - low, errors, confidence)[1]
    verdict = _verdict(errors, reliable, share_low, share_high, worth_fixing_share)
    sentence = _impact_sentence(
        split, count, errors, from_labels, (expected, low, high), (share_low, share_high)
    )
    if verdict == "unreliable":
        sentence = (
            f"{sentence}; but at {errors / count:.2%} {split} error (above "
            f"{max_model_error:.0%}) most suspects are likely the model's own mistakes: "
            "improve the model first, then look at labels again"
        )
    elif verdict != "none":
        sentence = f"{sentence}: {VERDICT_TEXT[verdict].format(threshold=worth_fixing_share)}"
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
        worth_fixing=verdict == "worth_fixing",
        sentence=sentence,
        reliable=reliable,
        false_suspects=expected,
        false_suspects_low=low,
        false_suspects_high=high,
        label_errors=label_errors,
        share_low=share_low,
        share_high=share_high,
        confidence=confidence,
        verdict=verdict,
    )


def _verdict(
    errors: int, reliable: bool, share_low: float, share_high: float, threshold: float
) -> Verdict:
    if errors == 0:
        return "none"
    if not reliable:
        return "unreliable"
    if share_low >= threshold:
        return "worth_fixing"
    return "not_priority" if share_high < threshold else "uncertain"


def _bool_vector(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"label error impact: {name} must be 1-D, got shape {array.shape}")
    if array.dtype != bool and not np.isin(array, (0, 1)).all():
        raise ValueError(f"label error impact: {name} must be boolean, got {array.dtype} values")
    return array.astype(bool)


def _impact_sentence(
    split: str,
    count: int,
    errors: int,
    from_labels: int,
    false_alarms: tuple[float, float, float],
    shares: tuple[float, float],
) -> str:
    if errors == 0:
        return f"no {split} errors: nothing to gain from fixing labels"
    error, from_share = errors / count, from_labels / count
    text = (
        f"{from_share:.2%} of the {error:.2%} {split} error ({from_labels / errors:.0%} of "
        f"errors) comes from suspected label errors, {error - from_share:.2%} from other causes"
    )
    expected, low, high = false_alarms
    if high > 0:
        text += (
            f"; a model of this error rate flags about {expected:.1f} of those {from_labels} "
            f"suspects ({low:.0f} to {high:.0f}) on correct labels, so about "
            f"{max(0.0, from_labels - expected):.0f} of the {errors} errors are label errors"
        )
    return f"{text} ({shares[0]:.0%} to {shares[1]:.0%} of errors)"


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
    from sklearn.linear_model import LogisticRegression  # here: only where the probe runs
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

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
