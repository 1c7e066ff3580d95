"""Detection's figures as the report reads them: per-split metrics, TIDE, the dev gallery.

These are the parts a detection run's records hold (the evaluate stage's per-split metrics,
the analyze stage's TIDE summary and gallery); `from_*` builds each from the evaluation
modules' results, so the writer and the report share one definition. APs, dAP, precision,
recall and the image error are fractions in [0, 1], NaN (written null) where undefined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from traindev.records.analysis import ThumbnailPath
from traindev.records.base import NanFloat, Record

if TYPE_CHECKING:
    from traindev.tasks.detection.metrics import DetectionMetrics
    from traindev.tasks.detection.tide import TideResult

RECALL_POINTS = 101  # COCO's recall grid: 0, 0.01, ..., 1


class DetectionSplitMetrics(Record):
    """One split's detection metrics (tasks.detection.metrics.DetectionMetrics, as JSON)."""

    images: int
    image_error: NanFloat  # share of images with a miss or a false detection
    map_50: NanFloat
    map_50_95: NanFloat
    precision: NanFloat  # at the operating threshold, matched at IoU 0.5
    recall: NanFloat
    score_threshold: float
    true_positives: int
    false_detections: int
    missed: int
    ap_50: dict[str, NanFloat]  # per class with a true object
    ap_50_95: dict[str, NanFloat]
    # COCOeval's interpolated precision at IoU 0.5 on its 101 recall points, mean over classes.
    precision_curve: list[NanFloat]

    @classmethod
    def from_metrics(cls, metrics: DetectionMetrics) -> DetectionSplitMetrics:
        return cls(**metrics.as_dict(), precision_curve=metrics.precision_curve.tolist())

    @property
    def recall_grid(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, len(self.precision_curve))


class TideSummary(Record):
    """TIDE on the dev split: errors per type and the AP@0.5 an oracle of each type gives back."""

    ap_50: NanFloat
    counts: dict[str, int]  # the six main types
    delta_ap: dict[str, NanFloat]  # main types, then false_positive and false_negative

    @classmethod
    def from_result(cls, result: TideResult) -> TideSummary:
        return cls(**result.as_dict())


class GalleryImage(Record):
    """One dev image of the gallery, drawn with its true boxes and its detections."""

    id: str
    thumbnail: ThumbnailPath  # relative to the architecture's analysis directory
    objects: int
    detections: int  # at the operating threshold
    wrong: bool  # the per-image error: a miss or a false detection
    errors: dict[str, int]  # TIDE type -> count on this image


class DetectorSummary(Record):
    """One trained detector in the comparison (dev split unless named)."""

    name: str
    family: str  # "localization", "sliding_windows", "sliding_windows_conv", "yolo", ...
    dev_map_50: NanFloat
    dev_map_50_95: NanFloat
    dev_image_error: NanFloat
    train_dev_image_error: NanFloat
    parameters: int
    latency_ms: NanFloat | None = None  # per image; None where not measured


class LabelIssueSummary(Record):
    """cleanlab.object_detection on one held-out split: boxes it suspects, by type."""

    images: int
    flagged_images: int
    counts: dict[str, int]  # overlooked, swapped, badly_located
    without_flagged: DetectionSplitMetrics  # the split re-scored without its flagged images


class DetectionAnalysisRecord(Record):
    """analyze@<arch> for a detector: per-split metrics with their curves, dev TIDE, the label
    issues of dev and test, and the dev gallery (reports/analysis/<arch>.json)."""

    splits: dict[str, DetectionSplitMetrics]
    tide: TideSummary | None  # None: no dev image
    label_issues: dict[str, LabelIssueSummary]  # dev, test (those with images)
    gallery: list[GalleryImage]
