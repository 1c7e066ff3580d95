"""reports/source_ablation/<arch>.json: "does the source data help?" for one architecture.

Written by `traindev source-ablation --arch NAME` after its three DVC experiments (the same
architecture trained with train.source_data.mode all, target_only and weighted), read by the
report stage when present. Errors are on the same dev rows for every arm, so differences are
paired-bootstrap intervals (evaluation.bootstrap.paired_difference_interval).
"""

from __future__ import annotations

from typing import Literal

from traindev.records.base import Interval, NanFloat, Record

Mode = Literal["all", "target_only", "weighted"]
Outcome = Literal["lower", "higher", "no measurable difference"]
Verdict = Literal["helps", "hurts", "no measurable difference"]


class AblationArm(Record):
    """One experiment: which rows it trained on and its dev error."""

    mode: Mode
    weight: float | None  # the source rows' loss weight (weighted only)
    experiment: str  # the `dvc exp` name
    train_rows: int  # rows the optimizer saw
    source_rows: int  # of which from a domain other than the target's
    dev_error: float
    dev_interval: Interval
    # error on the target's own train rows: a target-only arm fitting them worse than the
    # all arm is under-trained (fewer steps per epoch), not better off without the source
    target_train_error: NanFloat


class AblationComparison(Record):
    """error(first) - error(second) on the same dev rows, with its paired interval."""

    first: Mode
    second: Mode
    difference: float
    interval: Interval
    outcome: Outcome  # first's error against second's: lower, higher or within noise
    sentence: str


class SourceAblationRecord(Record):
    architecture: str
    split_dvc_md5: str  # DVC's hash of data/split the arms trained on (as dvc.lock writes it)
    target_domains: list[str]
    dev_examples: int
    confidence: float
    replicates: int
    arms: list[AblationArm]  # all, target_only, weighted
    comparisons: list[AblationComparison]
    verdict: Verdict  # of the source data as it is used today (all against target_only)
    best: Mode | None  # the arm better than each other arm beyond noise; None: no such arm
    under_trained: bool  # target_only fits the target's train rows worse than all does
    reading: str  # the verdict in the notes' terms, and what to do
