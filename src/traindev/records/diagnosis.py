"""data/evaluation/<arch>/diagnosis.json: the notes' bias / variance / data-mismatch reading.

`Gap` is the one definition of a judged gap: evaluation.diagnosis builds it, the report reads
it back from the file.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from traindev.records.base import Interval, NanFloat, Record


class Gap(Record):
    """One gap between consecutive levels of the table, judged against the thresholds."""

    model_config = ConfigDict(frozen=True)

    name: str  # avoidable_bias, variance, data_mismatch, dev_overfitting
    label: str
    value: NanFloat
    between: tuple[str, str]  # the levels it lies between, e.g. ("train", "train-dev")
    matters: bool
    knobs: tuple[str, ...]  # what the notes prescribe for it
    interval: Interval | None = None  # bootstrap (low, high), when one was given
    within_noise: bool = False  # passes the thresholds, but its interval holds zero
    # Below -min_gap with its interval below zero: the upper row is easier, said in `note`.
    negative: bool = False
    note: str | None = None
    # A row it touches has this few examples (< evaluate.diagnosis.min_examples): not judged.
    too_few: int | None = None


class TableIntervals(Record):
    """Bootstrap intervals of each level ("human-level", "train", ...) and of each gap."""

    confidence: float
    replicates: int
    rows: dict[str, Interval]
    gaps: dict[str, Interval]


class ClassGap(Record):
    value: NanFloat
    interval: Interval | None
    matters: bool
    within_noise: bool
    negative: bool = False
    too_few: int | None = None  # examples of the class in the smaller row, when too few


class ClassDiagnosis(Record):
    """One class's (or, multi-label, one label's) levels, counts and gaps."""

    model_config = ConfigDict(populate_by_name=True)

    label: str = Field(alias="class")
    counts: dict[str, int]  # examples per level ("train", "train-dev", ...)
    errors: dict[str, NanFloat]  # error per level
    error_intervals: dict[str, Interval] | None
    gaps: dict[str, ClassGap]
    dominant: str | None
    summary: str
    confidence: float | None


class LabelDiagnosis(ClassDiagnosis):
    label: str


class DomainRows(Record):
    """One training domain's train and train-dev rows (keys "train", "train-dev")."""

    domain: str
    target: bool  # dev and test come from this domain
    counts: dict[str, int]
    errors: dict[str, NanFloat]  # null where the domain has no example in the row
    error_intervals: dict[str, Interval]  # [null, null] where too few examples for one


class DomainDiagnosis(Record):
    """Per-domain rows beside the pooled ones, and the target's own five-row table judged
    like the pooled one (evaluation.domains). Present when training mixes domains."""

    target_domains: list[str]
    rows: list[DomainRows]
    target_errors: dict[str, NanFloat] | None  # "human-level", "train", ...: target rows only
    target_gaps: list[Gap] | None  # None when no target example is in train or train-dev
    target_dominant: str | None
    target_intervals: TableIntervals | None
    composition: bool  # the pooled data mismatch is the mix of domains in train-dev
    conclusion: str  # what the rows change about the pooled reading; "" when nothing
    summary: str

    def target_gap(self, name: str) -> Gap | None:
        return next((gap for gap in self.target_gaps or () if gap.name == name), None)


class DiagnosisRecord(Record):
    gaps: list[Gap]
    dominant: str | None
    summary: str
    confidence: float | None  # of every interval, e.g. 0.95; None without intervals
    intervals: TableIntervals | None
    per_class: list[ClassDiagnosis]
    binary_labels: list[str] | None = None  # multi-label models only
    per_label: list[LabelDiagnosis] | None = None
    domains: DomainDiagnosis | None = None  # when train / train-dev mix several domains

    def gap(self, name: str) -> Gap | None:
        """The gap called `name`, or None when the evaluation stage did not report it."""
        return next((gap for gap in self.gaps if gap.name == name), None)

    @property
    def row_intervals(self) -> dict[str, tuple[float, float]]:
        return {} if self.intervals is None else dict(self.intervals.rows)

    def gap_interval(self, name: str) -> tuple[float, float] | None:
        """The gap's own interval, else the one under intervals.gaps."""
        gap = self.gap(name)
        if gap is not None and gap.interval is not None:
            return gap.interval
        return None if self.intervals is None else self.intervals.gaps.get(name)
