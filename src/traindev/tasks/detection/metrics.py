"""Per-split detection metrics: COCO mAP by pycocotools, and the per-image error.

mAP@0.5 and mAP@[.5:.95] (the COCO primary metric) come from pycocotools' COCOeval, never from
a hand-written AP. COCOeval runs on the "all" area range with at most 100 detections per class
and image: the small / medium / large breakdown and AR@1 / AR@10 would quadruple its work and no
stage reads them; the figures it does compute are identical to a default COCOeval run (a test
pins that).

Precision, recall and the per-image error reuse COCOeval's own matching at IoU 0.5 (greedy by
score, one detection per object, within a class), restricted to the detections scoring at least
the operating threshold. Greedy matching by descending score never lets a lower-scoring
detection change what a higher-scoring one matched, so that restriction is exact: it is the
matching of the thresholded predictions. An image is wrong when a true object has no matching
detection or a detection matches no object: the unit of the five-row table and its bootstrap.
Detections beyond COCO's cap of 100 per class and image count as false detections.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from traindev.tasks.detection.evaluation_inputs import EvaluationSet, evaluation_set

MATCH_IOU = 0.5  # IoU of a correct detection (the notes, PASCAL VOC, COCO's AP50)
MAX_DETECTIONS = 100  # COCO's per-image, per-class cap


@dataclass(frozen=True)
class DetectionMetrics:
    """One split's detection metrics; APs are fractions in [0, 1], NaN with no true object."""

    map_50: float
    map_50_95: float
    ap_50: dict[str, float]  # per class with at least one true object
    ap_50_95: dict[str, float]
    precision: float  # at the operating threshold, matched at IoU 0.5
    recall: float
    score_threshold: float
    true_positives: int
    false_detections: int
    missed: int
    image_wrong: np.ndarray  # (images,) bool, in image order: the five-row table's unit
    recall_grid: np.ndarray  # COCO's 101 recall points
    precision_curve: np.ndarray  # interpolated precision at IoU 0.5, mean over classes

    @property
    def images(self) -> int:
        return len(self.image_wrong)

    @property
    def image_error(self) -> float:
        """Share of images with a miss or a false detection."""
        return float(self.image_wrong.mean()) if self.images else math.nan

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (the per-image array and the curve are left to their own files)."""
        return {
            "images": self.images,
            "image_error": self.image_error,
            "map_50": self.map_50,
            "map_50_95": self.map_50_95,
            "precision": self.precision,
            "recall": self.recall,
            "score_threshold": self.score_threshold,
            "true_positives": self.true_positives,
            "false_detections": self.false_detections,
            "missed": self.missed,
            "ap_50": self.ap_50,
            "ap_50_95": self.ap_50_95,
        }


def detection_metrics(
    box_table: pd.DataFrame,
    predictions: Sequence[Any],
    image_ids: Sequence[str],
    classes: Sequence[str],
    score_threshold: float = 0.0,
) -> DetectionMetrics:
    """Metrics of `predictions` (one per image of `image_ids`) against the box table's objects.

    mAP uses every prediction given (pass low-scoring ones too for a full precision-recall
    curve); precision, recall and the per-image error only those scoring >= `score_threshold`.
    """
    return metrics_of(evaluation_set(box_table, predictions, image_ids, classes), score_threshold)


def metrics_of(data: EvaluationSet, score_threshold: float = 0.0) -> DetectionMetrics:
    """`detection_metrics` on an already joined evaluation set."""
    evaluator = run_cocoeval(data)
    precision = evaluator.eval["precision"][:, :, :, 0, 0]  # (IoU, recall, class)
    names = data.classes
    has_truth = np.bincount(data.truth_class, minlength=len(names)) > 0
    ap_50_95 = {names[k]: _mean_valid(precision[:, :, k]) for k in np.flatnonzero(has_truth)}
    ap_50 = {names[k]: _mean_valid(precision[0, :, k]) for k in np.flatnonzero(has_truth)}
    curve = precision[0][:, has_truth]
    counts = _operating_counts(data, evaluator, score_threshold)
    matched, detected, truths = (counts[key] for key in ("matched", "detected", "truths"))
    tp = int(matched.sum())
    return DetectionMetrics(
        map_50=_mean_valid(precision[0]),
        map_50_95=_mean_valid(precision),
        ap_50=ap_50,
        ap_50_95=ap_50_95,
        precision=tp / int(detected.sum()) if detected.sum() else 0.0,
        recall=tp / int(truths.sum()) if truths.sum() else math.nan,
        score_threshold=float(score_threshold),
        true_positives=tp,
        false_detections=int((detected - matched).sum()),
        missed=int((truths - matched).sum()),
        image_wrong=((detected > matched) | (truths > matched)).any(axis=1),
        recall_grid=np.asarray(evaluator.params.recThrs, dtype=np.float64),
        precision_curve=(
            np.clip(curve, 0.0, None).mean(axis=1) if curve.size else np.full(len(curve), np.nan)
        ),
    )


def _mean_valid(values: np.ndarray) -> float:
    """COCO's average: cells of -1 (no true object of that class) are left out."""
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else math.nan


def coco_datasets(data: EvaluationSet) -> tuple[COCO, COCO]:
    """Ground truth and detections as pycocotools COCO objects (ids from 1, boxes xywh)."""
    images = [{"id": i} for i in range(data.images)]
    categories = [{"id": k + 1, "name": name} for k, name in enumerate(data.classes)]

    def annotations(image, cls, boxes, scores=None):
        xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
        area = (xywh[:, 2] * xywh[:, 3]).tolist()
        rows = zip(image.tolist(), (cls + 1).tolist(), xywh.tolist(), area, strict=True)
        made = [
            {"id": n, "image_id": i, "category_id": c, "bbox": b, "area": a, "iscrowd": 0}
            for n, (i, c, b, a) in enumerate(rows, start=1)
        ]
        if scores is not None:
            for annotation, score in zip(made, scores.tolist(), strict=True):
                annotation["score"] = score
        return made

    truth, detections = COCO(), COCO()
    truth.dataset = {
        "images": images,
        "categories": categories,
        "annotations": annotations(data.truth_image, data.truth_class, data.truth_boxes),
    }
    detections.dataset = {
        "images": images,
        "categories": categories,
        "annotations": annotations(
            data.pred_image, data.pred_class, data.pred_boxes, data.pred_score
        ),
    }
    with contextlib.redirect_stdout(io.StringIO()):  # "creating index..." per call
        truth.createIndex()
        detections.createIndex()
    return truth, detections


def run_cocoeval(data: EvaluationSet) -> COCOeval:
    """COCOeval evaluated and accumulated on the "all" area range, quietly."""
    truth, detections = coco_datasets(data)
    evaluator = COCOeval(truth, detections, iouType="bbox")
    params = evaluator.params
    params.imgIds = list(range(data.images))
    params.catIds = [k + 1 for k in range(len(data.classes))]
    params.areaRng, params.areaRngLbl = params.areaRng[:1], params.areaRngLbl[:1]
    params.maxDets = [MAX_DETECTIONS]
    assert math.isclose(params.iouThrs[0], MATCH_IOU)
    with contextlib.redirect_stdout(io.StringIO()):  # progress and timing lines
        evaluator.evaluate()
        evaluator.accumulate()
    return evaluator


def _operating_counts(
    data: EvaluationSet, evaluator: COCOeval, score_threshold: float
) -> dict[str, np.ndarray]:
    """(images, classes) counts of true objects, detections >= threshold, and matches."""
    shape = (data.images, len(data.classes))
    truths = np.zeros(shape, dtype=np.int64)
    np.add.at(truths, (data.truth_image, data.truth_class), 1)
    detected = np.zeros(shape, dtype=np.int64)
    above = data.pred_score >= score_threshold
    np.add.at(detected, (data.pred_image[above], data.pred_class[above]), 1)
    matched = np.zeros(shape, dtype=np.int64)
    # evalImgs is ordered class-major, then area range (one here), then image.
    for n, entry in enumerate(evaluator.evalImgs):
        if entry is None:
            continue
        hits = (entry["dtMatches"][0] > 0) & (np.asarray(entry["dtScores"]) >= score_threshold)
        matched[n % data.images, n // data.images] = int(hits.sum())
    return {"truths": truths, "detected": detected, "matched": matched}
