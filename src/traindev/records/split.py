"""reports/split/summary.json: counts per split, domain and class, and what they resolve."""

from __future__ import annotations

from pydantic import Field

from traindev.records.base import Interval, NanFloat, Record


class SetConfidence(Record):
    """How precisely a dev or test set of this size measures an error near the expected one."""

    examples: int
    half_width: NanFloat  # 95% normal half-width; null (NaN) for an empty set
    wilson_interval: Interval
    examples_needed: int
    big_enough: bool


class DevConfidence(SetConfidence):
    resolvable_difference: NanFloat  # the smallest difference of two errors it tells apart


class SplitConfidence(Record):
    level: float
    expected_error: float
    min_resolvable_difference: float
    dev: DevConfidence
    test: SetConfidence

    @property
    def sets(self) -> dict[str, SetConfidence]:
        return {"dev": self.dev, "test": self.test}


class SourceUse(Record):
    """How much of one non-target domain went into the training pool."""

    rows: int
    in_pool: int
    unused: int
    fraction: float
    cap: int | None


class NearDuplicates(Record):
    enabled: bool
    max_distance: int
    dropped: int


class SplitSummary(Record):
    counts: dict[str, dict[str, dict[str, int]]]  # split -> domain -> class -> examples
    totals: dict[str, int]
    target_domain: str
    unused_target: int
    sources: dict[str, SourceUse]
    duplicates_dropped: int
    fractions: dict[str, float]
    class_share_drift: dict[str, float]
    stratify: bool
    near_duplicates: NearDuplicates
    confidence: SplitConfidence
    warnings: list[str]
    # split -> classes with no example in it (train, dev, test): the notes' class-distribution
    # mismatch; each also has a warning. Default empty: summaries written before it existed.
    missing_classes: dict[str, list[str]] = Field(default_factory=dict)
    files_md5: dict[str, str]

    @property
    def near_duplicates_dropped(self) -> int | None:
        """None when the check was off."""
        return self.near_duplicates.dropped if self.near_duplicates.enabled else None
