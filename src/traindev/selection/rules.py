"""One optimizing metric, satisficing thresholds (course 3 of the notes).

The winner is the best model on the optimizing metric among those that meet every
threshold: "maximize accuracy subject to running time <= 100 ms". A single number to
optimize keeps the choice fast and unambiguous; thresholds say "good enough" for the rest.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from traindev.selection.candidates import Candidate

if TYPE_CHECKING:
    from traindev.config import SelectParams, ThresholdParams

Goal = Literal["minimize", "maximize"]
GOALS: tuple[Goal, ...] = ("minimize", "maximize")

# Metric kinds by which way is better; a name reads [<split>.]<kind>[.<class>].
LOWER_IS_BETTER = frozenset(
    {
        "error",
        "weighted_error",
        "class_error",
        "latency_ms",
        "latency_median_ms",
        "latency_p90_ms",
        "parameters",
        "flops_per_example",
        "train_seconds",
    }
)
HIGHER_IS_BETTER = frozenset({"accuracy", "precision", "recall", "f1", "examples_per_second"})
# Measurements of the machine at that moment rather than of the model: two runs of the same
# inputs differ. Their figures stay out of reports/selection.json (a committed DVC metric) and
# out of a failed threshold's reason; the run record and MLflow hold them.
VOLATILE = frozenset(
    {
        "latency_ms",
        "latency_median_ms",
        "latency_p90_ms",
        "train_seconds",
        "examples_per_second",
    }
)
RATES = frozenset(
    {"error", "weighted_error", "class_error", "accuracy", "precision", "recall", "f1"}
)
# Tie-breaks after the optimizing metric: the smaller model, then a stable order.
TIE_BREAK_METRIC = "parameters"
MAX_LISTED = 3


@dataclass(frozen=True)
class Threshold:
    """A satisficing metric: good enough when `metric` <= max and/or >= min."""

    metric: str
    max: float | None = None
    min: float | None = None

    def __post_init__(self) -> None:
        if self.max is None and self.min is None:
            raise ValueError(f"threshold on {self.metric!r} needs max, min or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(
                f"threshold on {self.metric!r}: min {self.min} is above max {self.max}, "
                "so no model can meet it"
            )

    @classmethod
    def from_params(cls, params: ThresholdParams) -> Threshold:
        return cls(metric=params.metric, max=params.max, min=params.min)

    def describe(self) -> str:
        """The threshold as the user would write it: "latency_ms <= 100"."""
        if self.min is not None and self.max is not None:
            return f"{_plain(self.min)} <= {self.metric} <= {_plain(self.max)}"
        if self.max is not None:
            return f"{self.metric} <= {_plain(self.max)}"
        return f"{self.metric} >= {_plain(self.min)}"

    def check(self, value: float | None) -> str | None:
        """None when `value` is good enough, else why not ("latency_ms 140.2 > 100").

        A model that was never measured on the metric cannot be shown to meet it.
        """
        if value is None or math.isnan(value):
            return f"{self.metric} not measured"
        shown = "" if _kind(self.metric) in VOLATILE else f" {_plain(value)}"
        if self.max is not None and value > self.max:
            return f"{self.metric}{shown} > {_plain(self.max)}"
        if self.min is not None and value < self.min:
            return f"{self.metric}{shown} < {_plain(self.min)}"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "max": self.max,
            "min": self.min,
            "description": self.describe(),
        }


@dataclass(frozen=True)
class SelectionRow:
    """One candidate's standing: its optimizing value, what it failed, its rank."""

    name: str
    source: str
    run_id: str | None
    started: str | None
    value: float | None  # the optimizing metric; None when not measured
    satisfied: bool  # meets every threshold (and has the optimizing metric)
    failed: tuple[str, ...]  # why not, one reason per failed threshold
    rank: int | None  # 1 = winner, among satisfying candidates only
    measured: Mapping[str, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "run_id": self.run_id,
            "started": self.started,
            "value": self.value,
            "satisfied": self.satisfied,
            "failed": list(self.failed),
            "rank": self.rank,
            "measured": dict(self.measured),
        }


@dataclass(frozen=True)
class Selection:
    """The winner (None when no candidate meets every threshold) and why."""

    optimizing: str
    goal: Goal
    thresholds: tuple[Threshold, ...]
    rows: tuple[SelectionRow, ...]  # ranked satisfying candidates first, then the others
    winner: SelectionRow | None
    excluded_by: Mapping[str, int]  # threshold description -> candidates it excluded
    explanation: str
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "optimizing": self.optimizing,
            "goal": self.goal,
            "thresholds": [threshold.as_dict() for threshold in self.thresholds],
            "winner": self.winner.as_dict() if self.winner else None,
            "rows": [row.as_dict() for row in self.rows],
            "excluded_by": dict(self.excluded_by),
            "explanation": self.explanation,
            "warnings": list(self.warnings),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate, a column per metric the decision looked at."""
        metrics = _decision_metrics(self.optimizing, self.thresholds)
        records = [
            {
                "rank": row.rank,
                "name": row.name,
                "source": row.source,
                "run_id": row.run_id,
                **{metric: row.measured.get(metric) for metric in metrics},
                "satisfied": row.satisfied,
                "failed": "; ".join(row.failed),
            }
            for row in self.rows
        ]
        columns = ["rank", "name", "source", "run_id", *metrics, "satisfied", "failed"]
        frame = pd.DataFrame.from_records(records, columns=columns)
        return frame.astype({"rank": "Int64"})


def select_from_params(candidates: Sequence[Candidate], params: SelectParams) -> Selection:
    """`select_model` configured by params.yaml's `select` section."""
    return select_model(
        candidates,
        params.optimizing,
        params.goal,
        [Threshold.from_params(threshold) for threshold in params.satisficing],
    )


def select_model(
    candidates: Sequence[Candidate],
    optimizing: str,
    goal: Goal = "minimize",
    thresholds: Iterable[Threshold] = (),
) -> Selection:
    """The best candidate on `optimizing` among those meeting every threshold.

    Ties on the optimizing metric go to fewer parameters, then name, then run id, so the
    same candidates always give the same winner. A metric no candidate has is a typo in
    params.yaml, not a model's failing: it raises ValueError naming the param.
    """
    candidates = list(candidates)
    thresholds = tuple(thresholds)
    _validate(candidates, optimizing, goal, thresholds)
    pairs = [(_row(candidate, optimizing, thresholds), candidate) for candidate in candidates]
    pairs.sort(key=lambda pair: (not pair[0].satisfied, _order_key(*pair, goal)))
    ranked = _assign_ranks([row for row, _ in pairs])
    winner = ranked[0] if ranked and ranked[0].satisfied else None
    excluded_by = {
        threshold.describe(): sum(
            threshold.check(candidate.metrics.get(threshold.metric)) is not None
            for candidate in candidates
        )
        for threshold in thresholds
    }
    explanation = _explain(ranked, winner, optimizing, goal, thresholds, excluded_by)
    return Selection(
        optimizing=optimizing,
        goal=goal,
        thresholds=thresholds,
        rows=tuple(ranked),
        winner=winner,
        excluded_by=excluded_by,
        explanation=explanation,
        warnings=tuple(direction_warnings(optimizing, goal, thresholds)),
    )


def is_volatile(metric: str) -> bool:
    """A measurement of the machine at that moment (latency, wall time), not of the model."""
    return _kind(metric) in VOLATILE


def better_direction(metric: str) -> Goal | None:
    """Which way `metric` improves, from its kind; None for a kind we do not know."""
    kind = _kind(metric)
    if kind in LOWER_IS_BETTER:
        return "minimize"
    if kind in HIGHER_IS_BETTER:
        return "maximize"
    return None


def direction_warnings(optimizing: str, goal: Goal, thresholds: Sequence[Threshold]) -> list[str]:
    """Catch the typo that silently picks the worst model: maximizing an error, say."""
    warnings = []
    better = better_direction(optimizing)
    if better is not None and better != goal:
        warnings.append(
            f"select.goal is {goal!r} but {optimizing} is better when "
            f"{'lower' if better == 'minimize' else 'higher'}: this picks the worst model; "
            f"set select.goal: {better}"
        )
    for index, threshold in enumerate(thresholds):
        better = better_direction(threshold.metric)
        if better == "minimize" and threshold.max is None:
            warnings.append(
                f"select.satisficing[{index}]: only a min on {threshold.metric}, which is "
                "better when lower; did you mean max?"
            )
        elif better == "maximize" and threshold.min is None:
            warnings.append(
                f"select.satisficing[{index}]: only a max on {threshold.metric}, which is "
                "better when higher; did you mean min?"
            )
    return warnings


def _validate(
    candidates: Sequence[Candidate],
    optimizing: str,
    goal: str,
    thresholds: Sequence[Threshold],
) -> None:
    if not candidates:
        raise ValueError(
            "no candidates to select from: train at least one architecture "
            "(train.architectures) or set select.include_earlier_runs: true"
        )
    if goal not in GOALS:
        raise ValueError(f"select.goal must be one of {list(GOALS)}, got {goal!r}")
    known = sorted({name for candidate in candidates for name in candidate.metrics})
    _require_known(optimizing, "select.optimizing", known)
    for index, threshold in enumerate(thresholds):
        _require_known(threshold.metric, f"select.satisficing[{index}].metric", known)


def _require_known(metric: str, param: str, known: list[str]) -> None:
    if metric in known:
        return
    nearest = difflib.get_close_matches(metric, known, n=3, cutoff=0.5)
    hint = f" (did you mean {' or '.join(repr(name) for name in nearest)}?)" if nearest else ""
    shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
    raise ValueError(
        f"{param}: no candidate has a metric {metric!r}{hint}; metrics measured: {shown or 'none'}"
    )


def _row(candidate: Candidate, optimizing: str, thresholds: Sequence[Threshold]) -> SelectionRow:
    value = candidate.metrics.get(optimizing)
    failed = [] if value is not None else [f"{optimizing} not measured"]
    for threshold in thresholds:
        reason = threshold.check(candidate.metrics.get(threshold.metric))
        if reason is not None:
            failed.append(reason)
    return SelectionRow(
        name=candidate.name,
        source=candidate.source,
        run_id=candidate.run_id,
        started=candidate.started,
        value=value,
        satisfied=not failed,
        failed=tuple(failed),
        rank=None,
        measured={
            metric: candidate.metrics.get(metric)
            for metric in _decision_metrics(optimizing, thresholds)
        },
    )


def _order_key(row: SelectionRow, candidate: Candidate, goal: Goal) -> tuple:
    """Best first: the optimizing value, then fewer parameters, name, run id."""
    value = row.value
    if value is None:
        primary: tuple = (1, 0.0)
    else:
        primary = (0, value if goal == "minimize" else -value)
    parameters = candidate.metrics.get(TIE_BREAK_METRIC, float("inf"))
    return (*primary, parameters, row.name, row.run_id or "")


def _assign_ranks(ordered: list[SelectionRow]) -> list[SelectionRow]:
    return [
        replace(row, rank=position if row.satisfied else None)
        for position, row in enumerate(ordered, start=1)
    ]


def _explain(
    rows: Sequence[SelectionRow],
    winner: SelectionRow | None,
    optimizing: str,
    goal: Goal,
    thresholds: Sequence[Threshold],
    excluded_by: Mapping[str, int],
) -> str:
    total = len(rows)
    if winner is None:
        worst = max(excluded_by, key=lambda description: excluded_by[description])
        return (
            f"No candidate meets every threshold: {worst} excluded the most "
            f"({excluded_by[worst]} of {total} candidates); relax that threshold or improve "
            "the models on it. Each row lists the thresholds it failed."
        )
    best = "lowest" if goal == "minimize" else "highest"
    value = _shown(optimizing, winner.value)
    if thresholds:
        satisfying = sum(row.satisfied for row in rows)
        among = f"among the {satisfying} of {total} candidates that meet every threshold"
    else:
        among = f"of the {total} candidates (no satisficing thresholds)"
    parts = [f"{winner.name} wins: {best} {optimizing} ({value}) {among}"]
    parts += _better_but_failing(rows, winner, optimizing, goal)
    tie = _tie_note(rows, winner, optimizing)
    if tie:
        parts.append(tie)
    return "; ".join(parts) + "."


def _better_but_failing(
    rows: Sequence[SelectionRow], winner: SelectionRow, optimizing: str, goal: Goal
) -> list[str]:
    """The models the thresholds turned away although they scored better."""
    best = winner.value
    if best is None:
        return []

    def better(value: float) -> bool:
        return value < best if goal == "minimize" else value > best

    beaten_by = [
        row for row in rows if not row.satisfied and row.value is not None and better(row.value)
    ]
    notes = [
        f"{row.name} scored better on {optimizing} ({_shown(optimizing, row.value)}) but fails "
        + " and ".join(row.failed)
        for row in beaten_by[:MAX_LISTED]
    ]
    if len(beaten_by) > MAX_LISTED:
        notes.append(f"{len(beaten_by) - MAX_LISTED} more scored better but fail a threshold")
    return notes


def _tie_note(rows: Sequence[SelectionRow], winner: SelectionRow, optimizing: str) -> str | None:
    tied = [
        row for row in rows if row.satisfied and row is not winner and row.value == winner.value
    ]
    if not tied:
        return None
    names = ", ".join(row.name for row in tied[:MAX_LISTED])
    return (
        f"tied with {names} on {optimizing}, broken by fewer {TIE_BREAK_METRIC}, "
        "then name, then run id"
    )


def _decision_metrics(optimizing: str, thresholds: Sequence[Threshold]) -> list[str]:
    return list(dict.fromkeys([optimizing, *(threshold.metric for threshold in thresholds)]))


def _shown(metric: str, value: float | None) -> str:
    """Rates as percentages ("2.05%"), everything else as a plain number."""
    if value is None:
        return "not measured"
    return f"{value:.2%}" if _kind(metric) in RATES else _plain(value)


def _kind(metric: str) -> str:
    """The kind in a name [<split>.]<kind>[.<class>]: "dev.class_error.8" -> class_error."""
    parts = metric.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _plain(value: float | None) -> str:
    if value is None:
        return "none"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value)}"
    return f"{value:.4g}"
