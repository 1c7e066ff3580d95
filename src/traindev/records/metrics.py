"""reports/metrics/<arch>.json: every split scored and the bias / variance table (a DVC metric).

Inference latency is not here: it measures the machine, not the model, and a committed
metric that changes on every run dirties git. It goes to MLflow and the evaluation run record.
"""

from __future__ import annotations

from typing import ClassVar

from traindev.records.base import NanFloat, Record


class SplitMetrics(Record):
    """One split's scores; an empty split has only `count` (and, multi-label, label counts)."""

    count: int
    error: float | None = None
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    weighted_error: float | None = None  # with the evaluate stage's class / tag weights
    class_error: dict[str, NanFloat] | None = None  # per true class present in the split
    # Multi-label models: per label, over the labels present.
    examples: int | None = None
    label_count: dict[str, int] | None = None
    label_error: dict[str, float] | None = None
    label_positives: dict[str, int] | None = None
    label_precision: dict[str, float] | None = None
    label_recall: dict[str, float] | None = None
    label_f1: dict[str, float] | None = None
    # Detectors (error is the per-image error): COCO mAP and the operating point's counts.
    map_50: NanFloat | None = None
    map_50_95: NanFloat | None = None
    ap_50: dict[str, NanFloat] | None = None  # per class
    true_positives: int | None = None
    false_detections: int | None = None
    missed: int | None = None


class BiasVariance(Record):
    """The five error levels and the four gaps between consecutive levels (gaps may be < 0)."""

    human_level_error: float
    train_error: NanFloat
    train_dev_error: NanFloat
    dev_error: NanFloat
    test_error: NanFloat
    avoidable_bias: NanFloat
    variance: NanFloat
    data_mismatch: NanFloat
    dev_overfitting: NanFloat


class MetricsRecord(Record):
    OMIT_NONE: ClassVar[bool] = True  # a metric not measured is absent, as DVC shows it

    splits: dict[str, SplitMetrics]
    bias_variance: BiasVariance
    binary_labels: list[str] | None = (
        None  # multi-label model: its labels (errors pool their labels)
    )
    label_threshold: float | None = None
