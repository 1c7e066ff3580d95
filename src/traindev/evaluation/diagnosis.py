"""The bias / variance / data-mismatch table of chapter 3, and what to do about it.

Human-level error stands in for Bayes error. Each gap between consecutive rows
names one problem, and the notes prescribe an orthogonal set of knobs for each:

    human-level --avoidable bias--> train --variance--> train-dev
                --data mismatch--> dev --overfitting to dev--> test
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from traindev.config import DiagnosisParams


@dataclass(frozen=True)
class GapSpec:
    name: str
    label: str
    lower: str  # row the gap starts from
    upper: str  # row it ends at
    knobs: tuple[str, ...]


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
    ),
    GapSpec(
        "dev_overfitting",
        "Overfitting to dev",
        "dev",
        "test",
        ("get a bigger dev set",),
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


@dataclass(frozen=True)
class GapFinding:
    name: str
    label: str
    value: float
    between: tuple[str, str]
    matters: bool
    knobs: tuple[str, ...]


@dataclass(frozen=True)
class Diagnosis:
    gaps: tuple[GapFinding, ...]
    dominant: str | None
    summary: str

    @property
    def problems(self) -> list[str]:
        return [finding.name for finding in self.gaps if finding.matters]

    def as_dict(self) -> dict:
        return {
            "gaps": [
                {**asdict(finding), "between": list(finding.between)} for finding in self.gaps
            ],
            "dominant": self.dominant,
            "summary": self.summary,
        }


def diagnose(table: BiasVarianceTable, params: DiagnosisParams | None = None) -> Diagnosis:
    """Flag each gap that is both non-trivial and comparable to the largest one.

    A gap matters when it is at least `min_gap` in absolute error and at least
    `relative_to_largest` of the largest gap: with train 1%, train-dev 9%, dev 10% the
    one-point mismatch is noise next to eight points of variance, while with human 4%,
    train 7%, train-dev 10%, dev 12% all three gaps deserve work.
    """
    params = params or DiagnosisParams()
    values = {spec.name: table.gap(spec) for spec in GAPS}
    largest = max(values.values())
    findings = tuple(
        GapFinding(
            name=spec.name,
            label=spec.label,
            value=values[spec.name],
            between=(spec.lower, spec.upper),
            matters=largest > 0
            and values[spec.name] >= params.min_gap
            and values[spec.name] >= params.relative_to_largest * largest,
            knobs=spec.knobs,
        )
        for spec in GAPS
    )
    flagged = [finding for finding in findings if finding.matters]
    dominant = max(flagged, key=lambda finding: finding.value).name if flagged else None
    return Diagnosis(findings, dominant, _summarize(table, flagged))


def _summarize(table: BiasVarianceTable, flagged: list[GapFinding]) -> str:
    if not flagged:
        return (
            f"No gap stands out: dev error {table.dev_error:.2%} against human-level "
            f"{table.human_level_error:.2%}; every gap is below the diagnosis thresholds."
        )
    ranked = sorted(flagged, key=lambda finding: finding.value, reverse=True)

    def describe(finding: GapFinding) -> str:
        lower, upper = finding.between
        return f"{finding.label.lower()} ({finding.value:.2%}, {lower} → {upper})"

    summary = f"Largest gap: {describe(ranked[0])}."
    if len(ranked) > 1:
        summary += f" Also worth work: {', '.join(describe(f) for f in ranked[1:])}."
    return summary
