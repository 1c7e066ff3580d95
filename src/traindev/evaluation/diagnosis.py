"""The bias / variance / data-mismatch table of chapter 3, and what to do about it.

Human-level error stands in for Bayes error. Each gap between consecutive rows
names one problem, and the notes prescribe an orthogonal set of knobs for each:

    human-level --avoidable bias--> train --variance--> train-dev
                --data mismatch--> dev --overfitting to dev--> test

With bootstrap intervals (traindev.evaluation.bootstrap) a gap is a problem only when
its interval lies above zero: a gap that passes the thresholds but whose interval holds
zero is reported as "within noise", with the split that would settle it. A negative gap
(dev easier than train-dev, say) is information, not an error, and is said in words; a row
measured on fewer than `min_examples` examples (a class seen four times) claims no interval,
and the gaps that touch it are not judged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from traindev.config import DiagnosisParams
from traindev.records.diagnosis import Gap

if TYPE_CHECKING:  # bootstrap imports this module for GAPS and BiasVarianceTable
    from traindev.evaluation.bootstrap import Interval, PerClassIntervals, TableIntervals


@dataclass(frozen=True)
class GapSpec:
    name: str
    label: str
    lower: str  # row the gap starts from
    upper: str  # row it ends at
    knobs: tuple[str, ...]
    negative: str  # what it means when the upper row's error is below the lower row's


GAPS: tuple[GapSpec, ...] = (
    GapSpec(
        "avoidable_bias",
        "Avoidable bias",
        "human-level",
        "train",
        (
            "train a bigger model (more layers or hidden units)",
            "train longer",
            "use a better optimization algorithm (momentum, RMSprop, Adam)",
            "search for a better architecture or hyperparameters",
        ),
        "train error is below human-level: the model fits its training data better than the "
        "human-level proxy, so avoidable bias is no longer the thing to work on (or "
        "evaluate.human_level_error is set too high)",
    ),
    GapSpec(
        "variance",
        "Variance",
        "train",
        "train-dev",
        (
            "get more training data",
            "add regularization (L2, dropout)",
            "use data augmentation",
            "search for a better architecture or hyperparameters",
        ),
        "train-dev error is below train error: train-dev is easier for the model than train "
        "(a different mix of domains or classes, or chance); there is no variance to fix",
    ),
    GapSpec(
        "data_mismatch",
        "Data mismatch",
        "train-dev",
        "dev",
        (
            "carry out manual error analysis to understand how train differs from dev/test",
            "make the training data more similar to dev/test, or collect more data like dev/test",
            "use artificial data synthesis (without overfitting to a narrow synthetic pool)",
        ),
        "dev error is below train-dev error: the target is easier for the model than the "
        "training distribution (typically another domain in train-dev is harder); this is "
        "information, not an error, and there is no data mismatch to fix",
    ),
    GapSpec(
        "dev_overfitting",
        "Overfitting to dev",
        "dev",
        "test",
        ("get a bigger dev set",),
        "test error is below dev error: test is easier for the model than dev; there is no "
        "sign of overfitting to dev",
    ),
)


@dataclass(frozen=True)
class BiasVarianceTable:
    """The notes' five rows; gaps are differences of consecutive rows (may be negative)."""

    human_level_error: float
    train_error: float
    train_dev_error: float
    dev_error: float
    test_error: float

    @property
    def rows(self) -> dict[str, float]:
        return {
            "human-level": self.human_level_error,
            "train": self.train_error,
            "train-dev": self.train_dev_error,
            "dev": self.dev_error,
            "test": self.test_error,
        }

    def gap(self, spec: GapSpec) -> float:
        return self.rows[spec.upper] - self.rows[spec.lower]

    @property
    def gaps(self) -> dict[str, float]:
        return {spec.name: self.gap(spec) for spec in GAPS}

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), **self.gaps}


# Keys of BiasVarianceTable.as_dict() that are rows, with their row name in the table.
ROW_KEYS: dict[str, str] = {
    "human_level_error": "human-level",
    "train_error": "train",
    "train_dev_error": "train-dev",
    "dev_error": "dev",
    "test_error": "test",
}
# What would narrow a row's interval, for the "within noise" sentence.
_BIGGER_SAMPLE: dict[str, str] = {
    "train": "scoring more training examples (evaluate.train_sample_size)",
    "train-dev": "a bigger train-dev set",
    "dev": "a bigger dev set",
    "test": "a bigger test set",
}


def _ci_label(confidence: float) -> str:
    return f"{confidence * 100:g}% CI"


@dataclass(frozen=True)
class Diagnosis:
    gaps: tuple[Gap, ...]
    dominant: str | None
    summary: str
    intervals: TableIntervals | None = None

    @property
    def problems(self) -> list[str]:
        return [finding.name for finding in self.gaps if finding.matters]

    @property
    def within_noise(self) -> list[str]:
        return [finding.name for finding in self.gaps if finding.within_noise]

    @property
    def confidence(self) -> float | None:
        return None if self.intervals is None else self.intervals.confidence

    def as_dict(self) -> dict:
        return {
            "gaps": [finding.model_dump() for finding in self.gaps],
            "dominant": self.dominant,
            "summary": self.summary,
            "confidence": self.confidence,
            "intervals": None if self.intervals is None else self.intervals.as_dict(),
        }


def diagnose(
    table: BiasVarianceTable,
    params: DiagnosisParams | None = None,
    intervals: TableIntervals | None = None,
    counts: Mapping[str, int] | None = None,
) -> Diagnosis:
    """Flag each gap that is non-trivial, comparable to the largest one, and not noise.

    A gap matters when it is at least `min_gap` in absolute error and at least
    `relative_to_largest` of the largest gap: with train 1%, train-dev 9%, dev 10% the
    one-point mismatch is noise next to eight points of variance, while with human 4%,
    train 7%, train-dev 10%, dev 12% all three gaps deserve work. With `intervals`, a gap
    must also have its interval's low bound above zero; one that passes the thresholds
    but not that test is "within noise", so a 30-image dev set never sends anyone off
    collecting data for a mismatch that may not exist. When every interval reaches zero,
    the largest gap sets the bar, so the largest one above `min_gap` is still reported as
    within noise rather than dropped.

    `counts` (examples per row, "train", "train-dev", ...) marks rows measured on fewer than
    `min_examples`: they claim no interval and the gaps that touch them are not judged.
    """
    params = params or DiagnosisParams()
    values = table.gaps
    few = too_few_rows(counts, params.min_examples)
    if few and intervals is not None:
        intervals = _without_claims(intervals, few)
    short = {spec.name: _too_few(spec, few) for spec in GAPS}

    def judged(name: str) -> bool:
        return short[name] is None and not math.isnan(values[name])

    def measurable(name: str) -> bool:
        # A gap within noise must not set the bar: a huge but noisy mismatch on a tiny dev
        # set would otherwise hide a real variance problem behind `relative_to_largest`.
        interval = None if intervals is None else intervals.gap(name)
        return judged(name) and (interval is None or interval.low > 0)

    measured = [values[name] for name in values if measurable(name)]
    largest = max(measured or [values[name] for name in values if judged(name)], default=0.0)
    findings = tuple(
        _finding(spec, values[spec.name], largest, params, intervals, short[spec.name])
        for spec in GAPS
    )
    flagged = [finding for finding in findings if finding.matters]
    dominant = max(flagged, key=lambda finding: finding.value).name if flagged else None
    summary = _summarize(table, findings, intervals, few, params.min_examples)
    return Diagnosis(findings, dominant, summary, intervals)


def too_few_rows(counts: Mapping[str, int] | None, minimum: int) -> dict[str, int]:
    """Rows measured on at least one but fewer than `minimum` examples, with their count.

    An empty row is already NaN; a handful of 0/1 outcomes bootstraps to a zero-width
    interval (4 of 4 wrong resamples to exactly 100% every time), a certainty it has not.
    """
    return {row: int(n) for row, n in (counts or {}).items() if 0 < n < minimum}


def _too_few(spec: GapSpec, few: Mapping[str, int]) -> int | None:
    """The smaller count of the gap's rows when one of them has too few examples."""
    found = [few[row] for row in (spec.lower, spec.upper) if row in few]
    return min(found) if found else None


def _without_claims(intervals: TableIntervals, few: Mapping[str, int]) -> TableIntervals:
    """The intervals with the too-few rows, and every gap touching them, emptied."""
    from traindev.evaluation.bootstrap import Interval

    empty = Interval.empty()
    return replace(
        intervals,
        rows={row: empty if row in few else v for row, v in intervals.rows.items()},
        gaps={
            spec.name: empty if _too_few(spec, few) is not None else intervals.gap(spec.name)
            for spec in GAPS
            if spec.name in intervals.gaps
        },
    )


def _finding(
    spec: GapSpec,
    value: float,
    largest: float,
    params: DiagnosisParams,
    intervals: TableIntervals | None,
    too_few: int | None = None,
) -> Gap:
    interval = None if intervals is None else intervals.gap(spec.name)
    common = {
        "name": spec.name,
        "label": spec.label,
        "value": float(value),
        "between": (spec.lower, spec.upper),
        "knobs": spec.knobs,
    }
    if too_few is not None:
        return Gap(**common, matters=False, too_few=too_few)
    passes = (
        largest > 0 and value >= params.min_gap and value >= params.relative_to_largest * largest
    )
    clear = interval is None or interval.low > 0  # an empty (NaN) interval is never clear
    # Below zero by more than min_gap, and (with an interval) surely below zero.
    negative = value < 0 and value <= -params.min_gap and (interval is None or interval.high < 0)
    return Gap(
        **common,
        matters=bool(passes and clear),
        interval=None if interval is None else interval.as_tuple(),
        within_noise=bool(passes and not clear),
        negative=bool(negative),
        note=spec.negative if negative else None,
    )


def _summarize(
    table: BiasVarianceTable,
    findings: tuple[Gap, ...],
    intervals: TableIntervals | None,
    few: Mapping[str, int] | None = None,
    minimum: int = 0,
) -> str:
    flagged = sorted(
        (finding for finding in findings if finding.matters),
        key=lambda finding: finding.value,
        reverse=True,
    )
    noisy = [finding for finding in findings if finding.within_noise]
    ci = "" if intervals is None else _ci_label(intervals.confidence)
    if flagged:
        summary = f"Largest gap: {_describe(flagged[0], ci)}."
        if len(flagged) > 1:
            summary += f" Also worth work: {', '.join(_describe(f, ci) for f in flagged[1:])}."
    elif noisy:
        summary = (
            f"No gap stands out beyond noise: dev error {table.dev_error:.2%} against "
            f"human-level {table.human_level_error:.2%}."
        )
    else:
        summary = (
            f"No gap stands out: dev error {table.dev_error:.2%} against human-level "
            f"{table.human_level_error:.2%}; every gap is below the diagnosis thresholds."
        )
    for finding in noisy:
        summary += " " + _noise_sentence(finding, ci, intervals)
    for finding in findings:
        if finding.negative and finding.note:
            summary += f" {finding.note[0].upper()}{finding.note[1:]}: {_measured(finding, ci)}."
    if few:
        rows = ", ".join(f"{row} (n={n})" for row, n in few.items())
        summary += (
            f" Too few examples to judge the gaps of {rows}: fewer than "
            f"evaluate.diagnosis.min_examples={minimum}, so no interval is claimed."
        )
    return summary


def _describe(finding: Gap, ci: str) -> str:
    lower, upper = finding.between
    detail = f"{finding.value:.2%}, {lower} → {upper}"
    if finding.interval is not None:
        detail += f", {ci} {finding.interval[0]:.2%} to {finding.interval[1]:.2%}"
    return f"{finding.label.lower()} ({detail})"


def _measured(finding: Gap, ci: str) -> str:
    """'data mismatch -5.00% (95% CI -5.4% to -4.6%)': the gap and its interval."""
    text = f"{finding.label.lower()} {finding.value:.2%}"
    if finding.interval is not None:
        text += f" ({ci} {finding.interval[0]:.2%} to {finding.interval[1]:.2%})"
    return text


def _noise_sentence(finding: Gap, ci: str, intervals: TableIntervals | None) -> str:
    """Say the gap may be noise, and which row's sample (the wider interval) would settle it."""
    assert finding.interval is not None and intervals is not None
    rows = [row for row in finding.between if row in _BIGGER_SAMPLE]

    def width(row: str) -> float:
        interval = intervals.row(row)
        return interval.high - interval.low

    noisiest = max(rows, key=width)
    low, high = finding.interval
    return (
        f"{finding.label} {finding.value:.2%} ({ci} {low:.2%} to {high:.2%}) is within noise: "
        f"{_BIGGER_SAMPLE[noisiest]} would tell."
    )


# ---------------------------------------------------------------------------------------------
# Comparison with an earlier run


@dataclass(frozen=True)
class ComparedValue:
    """One row or gap, now and in the previous run."""

    name: str  # a key of BiasVarianceTable.as_dict()
    label: str
    previous: float | None  # None when the previous run did not report it
    current: float
    interval: tuple[float, float]
    moved: bool  # the previous value lies outside the current interval

    @property
    def delta(self) -> float | None:
        return None if self.previous is None else self.current - self.previous

    @property
    def status(self) -> str:
        if self.previous is None:
            return "no previous value"
        if math.isnan(self.interval[0]):
            return "not measured now"
        return "moved" if self.moved else "within noise"

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "previous": self.previous,
            "current": self.current,
            "delta": self.delta,
            "interval": self.interval,
            "moved": self.moved,
            "status": self.status,
        }


@dataclass(frozen=True)
class Comparison:
    changes: tuple[ComparedValue, ...]  # gaps first, then rows
    confidence: float
    summary: str

    @property
    def moved(self) -> list[str]:
        return [change.name for change in self.changes if change.moved]

    def __getitem__(self, name: str) -> ComparedValue:
        for change in self.changes:
            if change.name == name:
                return change
        raise KeyError(f"no compared value {name!r}; known: {[c.name for c in self.changes]}")

    def as_dict(self) -> dict:
        return {
            "confidence": self.confidence,
            "summary": self.summary,
            "changes": [change.as_dict() for change in self.changes],
        }


def compare_with_previous(
    current: BiasVarianceTable,
    intervals: TableIntervals,
    previous: Mapping[str, float | None],
) -> Comparison:
    """Which rows and gaps really moved since an earlier run, and which moved only by noise.

    `previous` maps keys of BiasVarianceTable.as_dict() (e.g. an earlier metrics.json's
    "bias_variance") to values; missing keys and None / NaN values are "no previous value".
    A value moved when the previous one lies outside the current interval.
    """
    known = {*ROW_KEYS, *(spec.name for spec in GAPS)}
    unknown = sorted(set(previous) - known)
    if unknown:
        raise ValueError(f"previous: unknown key(s) {unknown}; valid keys are {sorted(known)}")
    entries = [
        (spec.name, spec.label.lower(), current.gap(spec), intervals.gap(spec.name))
        for spec in GAPS
    ] + [
        (key, f"{row} error", current.rows[row], intervals.row(row))
        for key, row in ROW_KEYS.items()
    ]
    values = tuple(
        _compare(name, label, now, interval, _previous_value(previous, name))
        for name, label, now, interval in entries
    )
    return Comparison(values, intervals.confidence, _comparison_summary(values))


def _previous_value(previous: Mapping[str, float | None], key: str) -> float | None:
    value = previous.get(key)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"previous[{key!r}]: expected a number, got {value!r}") from None
    return None if math.isnan(number) else number


def _compare(
    name: str, label: str, current: float, interval: Interval, previous: float | None
) -> ComparedValue:
    moved = previous is not None and not interval.is_empty and not interval.contains(previous)
    return ComparedValue(name, label, previous, float(current), interval.as_tuple(), moved)


def _comparison_summary(values: tuple[ComparedValue, ...]) -> str:
    moved = [
        f"{v.label} {'rose' if v.current > v.previous else 'fell'} "
        f"from {v.previous:.2%} to {v.current:.2%}"
        for v in values
        if v.moved and v.previous is not None
    ]
    groups = {
        "unchanged within noise": [v.label for v in values if v.status == "within noise"],
        "no previous value for": [v.label for v in values if v.status == "no previous value"],
        "not measured now": [v.label for v in values if v.status == "not measured now"],
    }
    clauses = moved + [
        f"{title}: {', '.join(labels)}" for title, labels in groups.items() if labels
    ]
    return "Since the previous run: " + "; ".join(clauses) + "."


# ---------------------------------------------------------------------------------------------
# Per-class diagnosis


def natural_key(name: str) -> tuple[object, ...]:
    """Sort "2" before "10" (and "cat2" before "cat10")."""
    return tuple(
        int(part) if index % 2 else part.lower()
        for index, part in enumerate(re.split(r"(\d+)", name))
    )


@dataclass(frozen=True)
class ClassDiagnosis:
    """One class's rows, counts, and gaps judged against their intervals."""

    name: str
    table: BiasVarianceTable
    counts: Mapping[str, int]  # examples of the class per row ("train", "train-dev", ...)
    diagnosis: Diagnosis

    @property
    def dominant(self) -> str | None:
        return self.diagnosis.dominant

    def as_dict(self) -> dict:
        """Compact: the knobs are the same for every class, so they stay in the overall gaps."""
        intervals = self.diagnosis.intervals
        return {
            "class": self.name,
            "counts": dict(self.counts),
            "errors": dict(self.table.rows),
            "error_intervals": None
            if intervals is None
            else {row: interval.as_dict() for row, interval in intervals.rows.items()},
            "gaps": {
                finding.name: {
                    "value": finding.value,
                    "interval": finding.interval,
                    "matters": finding.matters,
                    "within_noise": finding.within_noise,
                    "negative": finding.negative,
                    "too_few": finding.too_few,
                }
                for finding in self.diagnosis.gaps
            },
            "dominant": self.dominant,
            "summary": self.diagnosis.summary,
            "confidence": self.diagnosis.confidence,
        }


def diagnose_per_class(
    per_class_result: PerClassIntervals, params: DiagnosisParams | None = None
) -> list[ClassDiagnosis]:
    """The diagnosis of each class on its own, classes in natural order.

    A model can fit the font digits overall and still mistake every handwritten 7 for a
    1; the per-class table shows which class carries which gap. A class row measured on
    fewer than `min_examples` examples claims no interval and its gaps are not judged.
    """
    return [
        ClassDiagnosis(
            name=entry.name,
            table=entry.table,
            counts=entry.counts,
            diagnosis=diagnose(entry.table, params, entry.intervals, entry.counts),
        )
        for entry in sorted(per_class_result.classes, key=lambda entry: natural_key(entry.name))
    ]
