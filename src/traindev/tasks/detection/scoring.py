"""Detection's scoring for evaluate: a detector on the evaluated rows, as the shared stages read it.

Per split the detections come from predict.py down to `evaluate.detection.curve_threshold` (so
pycocotools sees a full precision-recall curve), and metrics.py turns them into mAP@0.5,
mAP@[.5:.95], and precision / recall / per-image error at the operating p_c threshold. The
per-image error is the `wrong` array the shared five-row table, bootstrap, diagnosis and
per-domain rows consume, exactly as a wrong label is for classification, so evaluate.py needs
no detection branch. The kept detections go to a table of their own (one row per detection)
for analyze: TIDE and label issues need the low-scoring ones too.

The detector's encoding (a `targets.YoloTargets`: grid, anchors, image size) comes from its
checkpoint (`Checkpoint.yolo_targets()`), and the box table lies beside the store's manifest
(paths.BOXES_FILE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from traindev import paths
from traindev.config import EvaluateParams
from traindev.data.store import SPLITS, ImageStore
from traindev.evaluation.plot_data import confusion_rows
from traindev.tasks.base import Scores
from traindev.tasks.detection.box_table import read_boxes
from traindev.tasks.detection.boxes import Detections, box_iou
from traindev.tasks.detection.detection_table import detection_table
from traindev.tasks.detection.evaluation_inputs import EvaluationSet, evaluation_set
from traindev.tasks.detection.metrics import MATCH_IOU, DetectionMetrics, metrics_of
from traindev.tasks.detection.predict import predict_detections
from traindev.tasks.detection.targets import YoloTargets

if TYPE_CHECKING:
    from traindev.training.checkpoint import Checkpoint

BACKGROUND = "background"  # the confusion's row of false detections and column of misses


def score(
    model: torch.nn.Module,
    store: ImageStore,
    rows: np.ndarray,
    evaluate: EvaluateParams,
    device: torch.device,
    *,
    checkpoint: Checkpoint | None = None,
) -> Scores:
    """The Scorer of task: detection (traindev.tasks.base): the box table beside the store and
    the encoding the detector was trained with (its checkpoint's grid, anchors, image size)."""
    if checkpoint is None:
        raise ValueError("scoring a detector needs its checkpoint: the encoding decodes its output")
    targets = checkpoint.yolo_targets()
    if store.path is None:
        raise ValueError("the store has no folder, so no box table beside its manifest")
    boxes = read_boxes(store.path / paths.BOXES_FILE)
    return score_detections(model, store, rows, boxes, targets, evaluate, device)


def score_detections(
    model: torch.nn.Module,
    store: ImageStore,
    rows: np.ndarray,
    boxes: pd.DataFrame,
    targets: YoloTargets,
    evaluate: EvaluateParams,
    device: torch.device,
) -> Scores:
    """Detections of `rows` scored per split against `boxes` (module docstring)."""
    settings = evaluate.detection
    rows = np.asarray(rows, dtype=np.int64)
    found = predict_detections(
        model,
        store,
        rows,
        targets,
        settings.curve_threshold,
        settings.nms_iou,
        evaluate.batch_size,
        device,
    )
    manifest = store.manifest.iloc[rows]
    ids = manifest["id"].astype(str).to_numpy()
    split = manifest["split"].to_numpy()
    wrong = np.zeros(len(rows), dtype=bool)
    per_split: dict[str, dict] = {}
    dev_set: EvaluationSet | None = None
    for name in SPLITS:
        where = np.flatnonzero(split == name)
        if not len(where):
            per_split[name] = {"count": 0}
            continue
        data = evaluation_set(boxes, [found[i] for i in where], ids[where], store.classes)
        metrics = metrics_of(data, settings.score_threshold)
        wrong[where] = metrics.image_wrong
        per_split[name] = split_figures(metrics)
        if name == "dev":
            dev_set = data
    confusion = (
        detection_confusion(dev_set, settings.score_threshold)
        if dev_set is not None
        else _empty_confusion(store.classes)
    )
    operating = [_above(d, settings.score_threshold) for d in found]
    predictions = pd.DataFrame(
        {
            "row": rows,
            "id": ids,
            "split": split,
            "domain": manifest["domain"].to_numpy(),
            "objects": _object_counts(boxes, ids),
            "detections": np.array([len(d.scores) for d in operating], dtype=np.int64),
            "confidence": _top_scores(found),
            "wrong": wrong,
        }
    )
    return Scores(
        rows=rows,
        split=split,
        wrong=wrong,
        per_split=per_split,
        predictions=predictions,
        outputs=_top_scores(found)[:, None],
        confusion=confusion,
        confusion_rows=confusion_rows(confusion),
        tables={paths.DETECTIONS_FILE: detection_table(rows, ids, found, store.classes)},
    )


def split_figures(metrics: DetectionMetrics) -> dict:
    """One split's figures in the metrics record's keys: `error` is the per-image error (what
    `dvc metrics`, selection and the five-row table read), beside mAP and the operating point."""
    return {
        "count": metrics.images,
        "error": metrics.image_error,
        "map_50": metrics.map_50,
        "map_50_95": metrics.map_50_95,
        "ap_50": metrics.ap_50,
        "precision": metrics.precision,
        "recall": metrics.recall,
        "true_positives": metrics.true_positives,
        "false_detections": metrics.false_detections,
        "missed": metrics.missed,
    }


def detection_confusion(data: EvaluationSet, score_threshold: float) -> pd.DataFrame:
    """Dev objects by true class against the class of the detection matching them at IoU 0.5
    (any class, greedy by score); unmatched objects in the `background` column (missed),
    unmatched detections in the `background` row (false detections). Detection's confusion
    matrix, as YOLO tools draw it."""
    names = [*data.classes, BACKGROUND]
    counts = np.zeros((len(names), len(names)), dtype=np.int64)
    background = len(data.classes)
    for image in range(data.images):
        truth = data.truth_of(image)
        pred = data.predictions_of(image)
        pred = pred[data.pred_score[pred] >= score_threshold]
        pred = pred[np.argsort(-data.pred_score[pred], kind="stable")]
        free = np.ones(len(truth), dtype=bool)
        overlap = box_iou(
            torch.as_tensor(data.pred_boxes[pred]), torch.as_tensor(data.truth_boxes[truth])
        ).numpy()
        for d, p in enumerate(pred):
            candidates = np.where(free, overlap[d], -1.0) if len(truth) else np.zeros(0)
            if len(candidates) and candidates.max() >= MATCH_IOU:
                t = int(candidates.argmax())
                free[t] = False
                counts[data.truth_class[truth[t]], data.pred_class[p]] += 1
            else:
                counts[background, data.pred_class[p]] += 1
        for t in truth[free]:
            counts[data.truth_class[t], background] += 1
    return pd.DataFrame(counts, index=pd.Index(names, name="true"), columns=names)


def _empty_confusion(classes: Sequence[str]) -> pd.DataFrame:
    names = [*classes, BACKGROUND]
    zeros = np.zeros((len(names), len(names)), dtype=np.int64)
    return pd.DataFrame(zeros, index=pd.Index(names, name="true"), columns=names)


def _above(found: Detections, threshold: float) -> Detections:
    keep = found.scores >= threshold
    return Detections(found.boxes[keep], found.scores[keep], found.classes[keep])


def _top_scores(found: Sequence[Detections]) -> np.ndarray:
    """Each image's highest p_c (0 with no detection): the per-row output evaluate saves."""
    return np.array(
        [float(d.scores.max()) if len(d.scores) else 0.0 for d in found], dtype=np.float32
    )


def _object_counts(boxes: pd.DataFrame, ids: np.ndarray) -> np.ndarray:
    per_id = boxes["id"].astype(str).value_counts()
    return per_id.reindex(ids, fill_value=0).to_numpy(np.int64)
