"""Label issues of a detection set, found by cleanlab.object_detection (ObjectLab).

Three kinds of annotation error, each scored per box by cleanlab (lower = more suspicious):
an **overlooked** object (a confident prediction no annotation covers: the annotator missed
it), a **swapped** class (a box whose class the model confidently contradicts) and a **badly
located** box (the model agrees on the class but not on where the box is). A box is flagged
when its score is at most cleanlab's threshold for its class (a factor of the class's AP), and
an image when any of its boxes is: exactly what `cleanlab.object_detection.find_label_issues`
decides, here kept per box so the sheet can say which box and why. Images are ranked by
cleanlab's label quality score.

The predictions must be out-of-sample (dev and test, never the training images, whose labels
the model has fitted, wrong ones included) and should keep low-scoring boxes: cleanlab reads
the model's uncertainty from them. The metrics are then recomputed without the flagged images,
the notes' question of whether label errors are worth fixing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
from cleanlab.object_detection import filter as cleanlab_filter
from cleanlab.object_detection import rank as cleanlab_rank

from traindev.tasks.detection.box_table import COORDINATES
from traindev.tasks.detection.evaluation_inputs import EvaluationSet, evaluation_set
from traindev.tasks.detection.metrics import DetectionMetrics, metrics_of

ISSUE_TYPES = ("overlooked", "swapped", "badly_located")
ISSUE_COLUMNS = (
    "rank",
    "image",
    "id",
    "type",
    "object",
    "prediction",
    "label",
    "score",
    *COORDINATES,
)


@dataclass(frozen=True)
class DetectionLabelIssues:
    """Flagged boxes (ranked, most suspicious first), flagged images, and the metrics of the
    images left once the flagged ones are set aside."""

    boxes: pd.DataFrame  # ISSUE_COLUMNS; object -1 for an overlooked box, prediction -1 else
    image_quality: np.ndarray  # (images,) cleanlab's label quality score, lower = worse
    image_flagged: np.ndarray  # (images,) bool
    without_flagged: DetectionMetrics

    @property
    def ranked_images(self) -> np.ndarray:
        """Positions of the flagged images, most suspicious first."""
        flagged = np.flatnonzero(self.image_flagged)
        return flagged[np.argsort(self.image_quality[flagged], kind="stable")]

    @property
    def counts(self) -> dict[str, int]:
        found = self.boxes["type"].value_counts()
        return {kind: int(found.get(kind, 0)) for kind in ISSUE_TYPES}

    def as_dict(self, top: int | None = None) -> dict[str, Any]:
        """JSON-ready summary; `top` keeps only the first `top` boxes."""
        boxes = self.boxes.head(len(self.boxes) if top is None else top)
        return {
            "images": len(self.image_flagged),
            "flagged_images": int(self.image_flagged.sum()),
            "counts": self.counts,
            "without_flagged": self.without_flagged.as_dict(),
            "boxes": [
                {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                for row in boxes.to_dict(orient="records")
            ],
        }


def detection_label_issues(
    box_table: pd.DataFrame,
    predictions: Sequence[Any],
    image_ids: Sequence[str],
    classes: Sequence[str],
    score_threshold: float = 0.0,
) -> DetectionLabelIssues:
    """cleanlab's label issues of one split; metrics without them at `score_threshold`."""
    data = evaluation_set(box_table, predictions, image_ids, classes)
    return label_issues_of(data, score_threshold)


def cleanlab_inputs(data: EvaluationSet) -> tuple[list[dict], list[list[np.ndarray]]]:
    """Labels and predictions in cleanlab's layout: per image, a dict of xyxy boxes and class
    indices, and per class an (M, 5) array of [x1, y1, x2, y2, score]."""
    labels, predictions = [], []
    for image in range(data.images):
        truth = data.truth_of(image)
        labels.append({"bboxes": data.truth_boxes[truth], "labels": data.truth_class[truth].copy()})
        preds = data.predictions_of(image)
        per_class = []
        for k in range(len(data.classes)):
            mine = preds[data.pred_class[preds] == k]
            per_class.append(np.column_stack([data.pred_boxes[mine], data.pred_score[mine]]))
        predictions.append(per_class)
    return labels, predictions


def label_issues_of(data: EvaluationSet, score_threshold: float = 0.0) -> DetectionLabelIssues:
    """`detection_label_issues` on an already joined evaluation set."""
    labels, predictions = cleanlab_inputs(data)
    flags = _flags_per_box(labels, predictions)
    quality = cleanlab_rank.get_label_quality_scores(labels, predictions, verbose=False)
    rows = []
    for image in range(data.images):
        truth = data.truth_of(image)
        preds = data.predictions_of(image)
        # cleanlab lists an image's predictions class by class, in the order given.
        by_class = preds[np.argsort(data.pred_class[preds], kind="stable")]
        for kind, (flagged, scores) in flags.items():
            for box in np.flatnonzero(flagged[image]):
                if kind == "overlooked":
                    pred = by_class[box]
                    where, obj, index = data.pred_boxes[pred], -1, int(data.pred_index[pred])
                    label = int(data.pred_class[pred])
                else:
                    row = truth[box]
                    where, obj, index = data.truth_boxes[row], int(data.truth_object[row]), -1
                    label = int(data.truth_class[row])
                score = float(scores[image][box])
                rows.append((image, kind, obj, index, data.classes[label], score, *where.tolist()))
    boxes = pd.DataFrame(rows, columns=[c for c in ISSUE_COLUMNS if c not in ("rank", "id")])
    boxes = boxes.sort_values(["score", "image"], kind="stable").reset_index(drop=True)
    boxes.insert(0, "rank", np.arange(1, len(boxes) + 1))
    boxes.insert(2, "id", np.asarray(data.image_ids, dtype=object)[boxes["image"].to_numpy(int)])
    flagged_images = np.zeros(data.images, dtype=bool)
    flagged_images[boxes["image"].to_numpy(int)] = True
    return DetectionLabelIssues(
        boxes=boxes,
        image_quality=np.asarray(quality, dtype=np.float64),
        image_flagged=flagged_images,
        without_flagged=metrics_of(data.subset(~flagged_images), score_threshold),
    )


def _flags_per_box(
    labels: list[dict], predictions: list[list[np.ndarray]]
) -> dict[str, tuple[list[np.ndarray], list[np.ndarray]]]:
    """Per issue type, per image: (flag per box, score per box), with cleanlab's thresholds.

    The steps of cleanlab 2.9's `find_label_issues`, kept per box instead of pooled per image.
    """
    f = cleanlab_filter
    auxiliary = cleanlab_rank._get_valid_inputs_for_compute_scores(f.ALPHA, labels, predictions)
    with mock.patch.object(f, "Pool", _SerialPool):
        class_ap = f._get_per_class_ap(labels, predictions)
    predicted = [cleanlab_rank._separate_prediction(p)[1] for p in predictions]
    labelled = [label["labels"] for label in labels]
    scores = {
        "overlooked": cleanlab_rank.compute_overlooked_box_scores(
            alpha=f.ALPHA,
            high_probability_threshold=f.HIGH_PROBABILITY_THRESHOLD,
            auxiliary_inputs=auxiliary,
        ),
        "swapped": cleanlab_rank.compute_swap_box_scores(
            alpha=f.ALPHA,
            high_probability_threshold=f.HIGH_PROBABILITY_THRESHOLD,
            auxiliary_inputs=auxiliary,
        ),
        "badly_located": cleanlab_rank.compute_badloc_box_scores(
            alpha=f.ALPHA,
            low_probability_threshold=f.LOW_PROBABILITY_THRESHOLD,
            auxiliary_inputs=auxiliary,
        ),
    }
    thresholds = {
        "overlooked": (predicted, f.OVERLOOKED_THRESHOLD_FACTOR),
        "swapped": (labelled, f.SWAP_THRESHOLD_FACTOR),
        "badly_located": (labelled, f.BADLOC_THRESHOLD_FACTOR),
    }
    out = {}
    for kind, per_image in scores.items():
        classes, factor = thresholds[kind]
        per_image = [np.nan_to_num(np.asarray(s, dtype=np.float64), nan=1.0) for s in per_image]
        flagged = f._find_label_issues_per_box(
            [s.copy() for s in per_image], f._process_class_list(classes, class_ap), factor
        )
        # cleanlab marks an image without boxes with one False: keep one flag per box.
        kept = [flag[: len(s)] for flag, s in zip(flagged, per_image, strict=True)]
        out[kind] = (kept, per_image)
    return out


class _SerialPool:
    """cleanlab's per-class AP opens a one-process `multiprocessing.Pool` for each of its ten IoU
    thresholds and pickles every image to it: the same calls in this process take 40% less
    time (and no process is forked inside a DVC stage or a DataLoader worker)."""

    def __init__(self, processes: int | None = None) -> None:
        del processes

    def starmap(self, function: Callable, arguments: Iterable[tuple]) -> list:
        return list(itertools.starmap(function, arguments))

    def close(self) -> None:
        pass
