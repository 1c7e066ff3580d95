"""Per-domain rows of the bias / variance table: which domain the pooled error lives in.

With target data in training (the notes' option 2), train and train-dev mix domains, and
their pooled rows hide where the error is. A "data mismatch" of 12.8% can be bias on the
target: the model errs 21% on the target's own training rows and 10% on the source's, so
train-dev (mostly source) looks far better than dev (all target). The cure is training
longer or a bigger model, not synthesis.

So each training domain gets its own train and train-dev error, and the target (the
domains of dev and test) gets its own five-row table: human-level, the target's training
rows, the target's train-dev rows, dev, test. Judged with the same thresholds and intervals
as the pooled table, that table isolates mismatch (target train-dev against dev, same
domain) from bias and variance on the target, and says when the pooled mismatch is only the
mix of domains in train-dev.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from traindev.config import DiagnosisParams
from traindev.evaluation.bootstrap import (
    SPLIT_ROWS,
    Interval,
    TableIntervals,
    error_interval,
    table_intervals,
)
from traindev.evaluation.diagnosis import BiasVarianceTable, Diagnosis, diagnose, too_few_rows
from traindev.records.diagnosis import Gap

TRAINING_SPLITS: tuple[str, ...] = ("train", "train_dev")
TARGET_SPLITS: tuple[str, ...] = ("dev", "test")


@dataclass(frozen=True)
class DomainRows:
    """One training domain's train and train-dev rows (keys "train", "train-dev")."""

    domain: str
    target: bool  # dev and test come from this domain
    counts: dict[str, int]
    errors: dict[str, float]  # NaN where the domain has no example in the row
    intervals: dict[str, Interval]  # empty where too few examples to claim one

    def as_dict(self) -> dict:
        return {
            "domain": self.domain,
            "target": self.target,
            "counts": dict(self.counts),
            "errors": dict(self.errors),
            "error_intervals": {row: i.as_dict() for row, i in self.intervals.items()},
        }


@dataclass(frozen=True)
class DomainDiagnosis:
    """The per-domain rows, the target's own table judged, and what they say together."""

    target_domains: tuple[str, ...]
    rows: tuple[DomainRows, ...]  # the target's first, then the others by name
    target_table: BiasVarianceTable | None  # None when no target example is in training
    target: Diagnosis | None
    composition: bool  # the pooled data mismatch is the mix of domains, not a mismatch
    conclusion: str  # the sentence that changes or explains the pooled reading ("" if none)
    summary: str

    def as_dict(self) -> dict:
        target = self.target
        return {
            "target_domains": list(self.target_domains),
            "rows": [row.as_dict() for row in self.rows],
            "target_errors": None if self.target_table is None else self.target_table.rows,
            "target_gaps": None if target is None else [g.model_dump() for g in target.gaps],
            "target_dominant": None if target is None else target.dominant,
            "target_intervals": None
            if target is None or target.intervals is None
            else target.intervals.as_dict(),
            "composition": self.composition,
            "conclusion": self.conclusion,
            "summary": self.summary,
        }


def diagnose_domains(
    wrong: np.ndarray,
    split: np.ndarray,
    domain: np.ndarray,
    human_level_error: float,
    pooled: Diagnosis,
    params: DiagnosisParams | None = None,
) -> DomainDiagnosis | None:
    """Per-domain rows and the target's own table; None when training holds one domain.

    `wrong`, `split` (store split names) and `domain` hold one entry per scored example.
    The target is the set of domains of dev and test (the split stage draws both from the
    target domain). `pooled` is the diagnosis of the pooled table, which this one explains.
    """
    params = params or DiagnosisParams()
    wrong = np.asarray(wrong, dtype=bool)
    split = np.asarray(split)
    domain = np.asarray(domain).astype(str)
    training = np.isin(split, TRAINING_SPLITS)
    training_domains = sorted(set(domain[training].tolist()))
    if len(training_domains) < 2:
        return None
    target_domains = tuple(sorted(set(domain[np.isin(split, TARGET_SPLITS)].tolist())))
    is_target = np.isin(domain, target_domains)
    rows = tuple(
        sorted(
            (
                _domain_rows(name, name in target_domains, wrong, split, domain == name, params)
                for name in training_domains
            ),
            key=lambda row: (not row.target, row.domain),
        )
    )
    in_training = bool((is_target & training).any())
    table, target = (
        _target_diagnosis(wrong, split, is_target, human_level_error, params)
        if in_training
        else (None, None)
    )
    composition = _is_composition(pooled, target)
    conclusion = _conclusion(pooled, target, table, rows, composition, params)
    summary = " ".join(
        part for part in (_rows_sentence(rows), _target_sentence(table, target), conclusion) if part
    )
    return DomainDiagnosis(
        target_domains, rows, table, target, composition, conclusion, summary.strip()
    )


def with_domain_reading(diagnosis: Diagnosis, domains: DomainDiagnosis | None) -> Diagnosis:
    """The pooled diagnosis with the per-domain conclusion added to its summary."""
    if domains is None or not domains.conclusion:
        return diagnosis
    return replace(diagnosis, summary=f"{diagnosis.summary} Per domain: {domains.conclusion}")


def _domain_rows(
    name: str,
    target: bool,
    wrong: np.ndarray,
    split: np.ndarray,
    mask: np.ndarray,
    params: DiagnosisParams,
) -> DomainRows:
    counts, errors, intervals = {}, {}, {}
    for index, store_split in enumerate(TRAINING_SPLITS):
        row = SPLIT_ROWS[store_split]
        vector = wrong[mask & (split == store_split)]
        counts[row] = int(vector.size)
        errors[row] = float(vector.mean()) if vector.size else math.nan
        few = too_few_rows({row: vector.size}, params.min_examples)
        intervals[row] = (
            Interval.empty()
            if few or not vector.size
            else error_interval(
                vector, params.bootstrap_replicates, params.confidence, params.seed + index
            )
        )
    return DomainRows(name, target, counts, errors, intervals)


def _target_diagnosis(
    wrong: np.ndarray,
    split: np.ndarray,
    is_target: np.ndarray,
    human_level_error: float,
    params: DiagnosisParams,
) -> tuple[BiasVarianceTable, Diagnosis]:
    """The five-row table on the target's examples alone, judged like the pooled one."""
    vectors = {name: wrong[is_target & (split == name)] for name in SPLIT_ROWS}
    table = BiasVarianceTable(
        human_level_error=float(human_level_error),
        **{
            f"{name}_error": float(vector.mean()) if vector.size else math.nan
            for name, vector in vectors.items()
        },
    )
    intervals: TableIntervals = table_intervals(
        vectors, human_level_error, params.bootstrap_replicates, params.confidence, params.seed
    )
    counts = {SPLIT_ROWS[name]: int(vector.size) for name, vector in vectors.items()}
    return table, diagnose(table, params, intervals, counts)


def _flagged(gap: Gap | None) -> bool:
    return gap is not None and (gap.matters or gap.within_noise)


def _gap(diagnosis: Diagnosis | None, name: str) -> Gap | None:
    if diagnosis is None:
        return None
    return next((gap for gap in diagnosis.gaps if gap.name == name), None)


def _is_composition(pooled: Diagnosis, target: Diagnosis | None) -> bool:
    """The pooled mismatch is flagged, yet the target's train-dev rows match dev."""
    own = _gap(target, "data_mismatch")
    return (
        _flagged(_gap(pooled, "data_mismatch"))
        and own is not None
        and not math.isnan(own.value)
        and own.too_few is None
        and not _flagged(own)
    )


def _conclusion(
    pooled: Diagnosis,
    target: Diagnosis | None,
    table: BiasVarianceTable | None,
    rows: tuple[DomainRows, ...],
    composition: bool,
    params: DiagnosisParams,
) -> str:
    """What the per-domain rows change about the pooled reading, in a sentence or three."""
    if target is None or table is None:
        return (
            "no target example is in train or train-dev, so the target's own rows cannot be "
            "measured and the pooled data-mismatch gap is the notes' mismatch."
        )
    parts = []
    others = [row for row in rows if not row.target]
    source = _hardest(others, "train-dev")
    pooled_gap = _gap(pooled, "data_mismatch")
    if composition and pooled_gap is not None:
        parts.append(
            f"the pooled data mismatch ({pooled_gap.value:.2%}) is the mix of domains in "
            f"train-dev, not a mismatch of the target: the target's own train-dev rows "
            f"({table.train_dev_error:.2%}) are as hard as dev ({table.dev_error:.2%})"
            + (
                f", while {source.domain} train-dev rows are easier "
                f"({source.errors['train-dev']:.2%})."
                if source is not None and source.errors["train-dev"] < table.train_dev_error
                else "."
            )
        )
    if (
        pooled_gap is not None
        and pooled_gap.value <= -params.min_gap
        and source is not None
        and source.errors["train-dev"] > table.train_dev_error
    ):
        parts.append(
            f"dev is easier than the pooled train-dev ({pooled_gap.value:.2%}) because the "
            f"{source.domain} train-dev rows ({source.errors['train-dev']:.2%}) are harder for "
            f"the model than the target's ({table.train_dev_error:.2%}): the target is easier "
            "than the mix, which is information, not an error"
            + ("." if pooled_gap.negative else " (the gap's interval reaches zero).")
        )
    parts += _target_advice(target, table, others, pooled)
    return " ".join(part[0].upper() + part[1:] for part in parts)


def _target_advice(
    target: Diagnosis,
    table: BiasVarianceTable,
    others: list[DomainRows],
    pooled: Diagnosis,
) -> list[str]:
    """The target's own gaps that matter, each with what it means and the notes' knobs."""
    advice = []
    easiest = _easiest(others, "train")
    for gap in sorted(
        (gap for gap in target.gaps if gap.matters and gap.name != "dev_overfitting"),
        key=lambda gap: -gap.value,
    ):
        if gap.name == "avoidable_bias":
            against = (
                f" against {easiest.errors['train']:.2%} on {easiest.domain}"
                if easiest is not None
                else ""
            )
            advice.append(
                f"the target's own training rows have {table.train_error:.2%} error{against}: "
                f"avoidable bias on the target ({gap.value:.2%}); {gap.knobs[1]} or "
                f"{gap.knobs[0].split(' (')[0]}, not synthesis, which cannot fix a model that "
                "underfits the target."
            )
        elif gap.name == "variance":
            advice.append(
                f"the target's own rows show variance ({gap.value:.2%}): "
                f"{table.train_error:.2%} error on its training rows against "
                f"{table.train_dev_error:.2%} on its train-dev rows; more training data of "
                f"the target, {gap.knobs[1]} or {gap.knobs[2]}."
            )
        elif gap.name == "data_mismatch":
            advice.append(
                f"the target's own train-dev rows ({table.train_dev_error:.2%}) against dev "
                f"({table.dev_error:.2%}) still show a mismatch of {gap.value:.2%}: dev "
                "differs from the target data in training (check how dev and test were "
                "drawn), so the pooled mismatch's knobs apply."
            )
    pooled_mismatch = _gap(pooled, "data_mismatch")
    if not advice and _flagged(pooled_mismatch) and _flagged(_gap(target, "data_mismatch")):
        advice.append("the target's own rows agree with the pooled data mismatch.")
    return advice


def _hardest(rows: list[DomainRows], row: str) -> DomainRows | None:
    measured = [r for r in rows if not math.isnan(r.errors[row])]
    return max(measured, key=lambda r: r.errors[row], default=None)


def _easiest(rows: list[DomainRows], row: str) -> DomainRows | None:
    measured = [r for r in rows if not math.isnan(r.errors[row])]
    return min(measured, key=lambda r: r.errors[row], default=None)


def _rows_sentence(rows: tuple[DomainRows, ...]) -> str:
    cells = "; ".join(
        f"{row.domain}{' (target)' if row.target else ''} "
        f"{_error(row, 'train')} / {_error(row, 'train-dev')}"
        for row in rows
    )
    return f"Train / train-dev error per domain: {cells}."


def _error(row: DomainRows, name: str) -> str:
    value = row.errors[name]
    return "none" if math.isnan(value) else f"{value:.2%} (n={row.counts[name]})"


def _target_sentence(table: BiasVarianceTable | None, target: Diagnosis | None) -> str:
    if table is None or target is None:
        return ""
    head = (
        f"The target's own table (train {table.train_error:.2%}, train-dev "
        f"{table.train_dev_error:.2%}, dev {table.dev_error:.2%}): "
    )
    dominant = _gap(target, target.dominant) if target.dominant else None
    if dominant is None:
        return head + "no gap stands out."
    return head + f"largest gap {dominant.label.lower()} ({dominant.value:.2%})."
