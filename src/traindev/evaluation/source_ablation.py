"""The verdict of "does the source data help?" from three models' errors on the same dev rows.

The notes (course 3, week 2): data from another distribution helps when the network is big
enough to fit both distributions, and can hurt a small model that spends capacity on the
other one; weighting the source down (beta in J = sum_target L + beta sum_source L) is the
middle way. Each pair of arms is compared by the paired bootstrap of the difference of their
dev errors: only a difference whose interval clears zero is called one, so a verdict never
rests on sampling noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from traindev.config import DiagnosisParams
from traindev.evaluation.bootstrap import Interval, error_interval, paired_difference_interval
from traindev.records.source_ablation import (
    AblationArm,
    AblationComparison,
    Mode,
    Outcome,
    SourceAblationRecord,
    Verdict,
)

MODES: tuple[Mode, ...] = ("all", "target_only", "weighted")
# (first, second): the first's error minus the second's. The first pair is the verdict's.
PAIRS: tuple[tuple[Mode, Mode], ...] = (
    ("all", "target_only"),
    ("weighted", "all"),
    ("weighted", "target_only"),
)


@dataclass(frozen=True)
class ArmErrors:
    """One trained arm: what it trained on and whether it got each dev row wrong."""

    mode: Mode
    weight: float | None
    experiment: str
    train_rows: int
    source_rows: int
    dev_ids: np.ndarray  # the dev rows' ids, to pair the arms row by row
    dev_wrong: np.ndarray  # bool, aligned with dev_ids
    target_train_wrong: np.ndarray  # bool, one per train row of the target domain


def label(arm: AblationArm) -> str:
    if arm.mode == "all":
        return "all training data"
    if arm.mode == "target_only":
        return "target data only"
    return f"source weighted {arm.weight:g}"


def judge(
    architecture: str,
    arms: Sequence[ArmErrors],
    target_domains: Sequence[str],
    settings: DiagnosisParams | None = None,
    split_dvc_md5: str = "",
) -> SourceAblationRecord:
    """The record of the three arms, their paired comparisons and the notes' reading."""
    settings = settings or DiagnosisParams()
    by_mode = {arm.mode: arm for arm in arms}
    if sorted(by_mode) != sorted(MODES) or len(arms) != len(MODES):
        raise ValueError(f"the ablation needs one arm per mode {list(MODES)}, got {list(by_mode)}")
    wrong = _paired(by_mode)
    replicates, confidence, seed = (
        settings.bootstrap_replicates,
        settings.confidence,
        settings.seed,
    )
    records = {
        mode: AblationArm(
            mode=mode,
            weight=arm.weight if mode == "weighted" else None,
            experiment=arm.experiment,
            train_rows=arm.train_rows,
            source_rows=arm.source_rows,
            dev_error=float(wrong[mode].mean()),
            dev_interval=error_interval(wrong[mode], replicates, confidence, seed).as_tuple(),
            target_train_error=_rate(arm.target_train_wrong),
        )
        for mode, arm in by_mode.items()
    }
    comparisons = [
        _compare(
            records[first],
            records[second],
            paired_difference_interval(wrong[first], wrong[second], replicates, confidence, seed),
            confidence,
        )
        for first, second in PAIRS
    ]
    verdict = _verdict(comparisons[0].outcome)
    best = _best(comparisons)
    under_trained = bool(
        records["target_only"].target_train_error > records["all"].target_train_error
    )
    arms_in_order = [records[mode] for mode in MODES]
    return SourceAblationRecord(
        architecture=architecture,
        split_dvc_md5=split_dvc_md5,
        target_domains=list(target_domains),
        dev_examples=len(wrong["all"]),
        confidence=confidence,
        replicates=replicates,
        arms=arms_in_order,
        comparisons=comparisons,
        verdict=verdict,
        best=best,
        under_trained=under_trained,
        reading=_reading(
            architecture, verdict, best, records, comparisons, len(wrong["all"]), under_trained
        ),
    )


def _paired(arms: dict[Mode, ArmErrors]) -> dict[Mode, np.ndarray]:
    """Each arm's wrong vector in one row order; the arms must be scored on the same rows."""
    reference = np.sort(np.asarray(arms["all"].dev_ids).astype(str))
    if len(reference) == 0:
        raise ValueError("the ablation's arms have no dev rows to compare on")
    aligned: dict[Mode, np.ndarray] = {}
    for mode, arm in arms.items():
        ids = np.asarray(arm.dev_ids).astype(str)
        if len(ids) != len(arm.dev_wrong):
            raise ValueError(f"{mode}: {len(ids)} dev ids but {len(arm.dev_wrong)} outcomes")
        order = np.argsort(ids, kind="stable")
        if not np.array_equal(ids[order], reference):
            raise ValueError(
                f"{mode} was scored on other dev rows than all ({arm.experiment}); the three "
                "experiments must share one split"
            )
        aligned[mode] = np.asarray(arm.dev_wrong, dtype=bool)[order]
    return aligned


def _rate(wrong: np.ndarray) -> float:
    return float(np.mean(wrong)) if len(wrong) else float("nan")


def _outcome(interval: Interval) -> Outcome:
    if interval.high < 0:
        return "lower"
    if interval.low > 0:
        return "higher"
    return "no measurable difference"


def _compare(
    first: AblationArm, second: AblationArm, interval: Interval, confidence: float
) -> AblationComparison:
    difference = first.dev_error - second.dev_error
    outcome = _outcome(interval)
    figures = (
        f"{first.dev_error:.2%} against {second.dev_error:.2%}, difference {difference:+.2%} "
        f"({confidence:.0%} CI {interval.low:+.2%} to {interval.high:+.2%})"
    )
    if outcome == "no measurable difference":
        sentence = f"{label(first)} and {label(second)}: no difference we can measure ({figures})"
    else:
        sentence = f"{label(first)} gives a {outcome} dev error than {label(second)} ({figures})"
    return AblationComparison(
        first=first.mode,
        second=second.mode,
        difference=difference,
        interval=interval.as_tuple(),
        outcome=outcome,
        sentence=sentence,
    )


def _verdict(all_against_target: Outcome) -> Verdict:
    if all_against_target == "lower":
        return "helps"
    if all_against_target == "higher":
        return "hurts"
    return "no measurable difference"


def _best(comparisons: Sequence[AblationComparison]) -> Mode | None:
    """The arm whose dev error is lower than every other arm's beyond noise."""
    for mode in MODES:
        wins = sum(
            (c.first == mode and c.outcome == "lower")
            or (c.second == mode and c.outcome == "higher")
            for c in comparisons
        )
        if wins == len(MODES) - 1:
            return mode
    return None


def _reading(
    architecture: str,
    verdict: Verdict,
    best: Mode | None,
    arms: dict[Mode, AblationArm],
    comparisons: Sequence[AblationComparison],
    dev_examples: int,
    under_trained: bool,
) -> str:
    """The verdict in the notes' terms, then what weighting did, then what to use."""
    head = comparisons[0]
    if verdict == "helps":
        first = (
            f"The source data helps {architecture}: {head.sentence}. The other distribution "
            "adds useful examples without costing the target, as the notes expect of a model "
            "big enough to fit both; keep it."
        )
    elif verdict == "hurts":
        first = (
            f"The source data hurts {architecture}: {head.sentence}. The notes' warning: a "
            "model too small for both distributions spends capacity on the other one and does "
            "worse on the target. Train on the target only, weight the source down, or give "
            "the network more capacity."
        )
    else:
        first = (
            f"No difference we can measure between training {architecture} on all the data "
            f"and on the target only, on {dev_examples} dev examples: {head.sentence}. A larger "
            "dev set (or a larger effect) is needed to tell."
        )
    weighted = arms["weighted"]
    against = [c for c in comparisons if c.first == "weighted"]
    if best == "weighted":
        second = (
            f"Weighting the source at {weighted.weight:g}, the notes' middle way, beats both: "
            f"{against[0].sentence}; {against[1].sentence}."
        )
    else:
        second = f"Weighting ({label(weighted)}): {against[0].sentence}; {against[1].sentence}."
    if best is None:
        third = "No arm is better than both others beyond noise."
    else:
        third = f"Use train.source_data.mode: {best} for {architecture}."
    parts = [first, second, third]
    if under_trained:
        target_only, pooled = arms["target_only"], arms["all"]
        parts.append(
            f"Caution: trained on the target alone, {architecture} fits the target's training "
            f"rows worse ({target_only.target_train_error:.2%} error) than trained on all "
            f"the data ({pooled.target_train_error:.2%}): with the same train.epochs it took "
            "fewer steps and is under-trained, so part of this comparison is the training "
            "budget, not the data; give the target-only arm more epochs "
            "(train.overrides) to settle it."
        )
    return " ".join(parts)
