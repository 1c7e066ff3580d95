"""TIDE: where a detector's lost mAP goes, the notes' ceiling analysis for detection.

Bolya et al., "TIDE: A General Toolbox for Identifying Object Detection Errors" (ECCV 2020).
Within an image, detections are taken by descending score and matched greedily to the unused
true object of their class with the highest IoU >= t_f (0.5). Every unmatched detection is then
typed by the first test it passes, in TIDE's order:

1. localization: its best IoU with an object of its class lies in [t_b, t_f];
2. classification: IoU >= t_f with an object of another class;
3. duplicate: IoU >= t_f with an object of its class already matched by a higher score;
4. background: IoU <= t_b with every object;
5. both (classification and localization): anything else, i.e. IoU in (t_b, t_f) with an
   object of another class.

A true object no detection matched is "missed" unless a localization or classification error
points at it (fixing that error recovers it). dAP of a type is the AP@0.5 gained when an oracle
fixes every error of that type and nothing else: a localization or classification error becomes
the true positive of its object (only the highest-scoring one per object; the others are
dropped), duplicates, background and "both" detections are dropped, and a missed object leaves
the ground truth. TIDE also reports two broader oracles: every false positive scored below every
true one (false_positive), and every unmatched object removed (false_negative). AP is TIDE's:
COCO's 101-point interpolation over the classes that have objects or detections, computed on
the matched lists, at COCO's recall points (np.linspace; the dbolya/tide code writes them as
x / 100, which differ in the last bit and can move an AP by about 0.01 points), so on unfixed
predictions it equals COCOeval's AP@0.5 (a test pins that). Checked against the dbolya/tide
code on seeded sets: the same count of every type and the same dAP within that rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from traindev.tasks.detection.boxes import box_iou
from traindev.tasks.detection.evaluation_inputs import EvaluationSet, evaluation_set

FOREGROUND_IOU = 0.5  # t_f
BACKGROUND_IOU = 0.1  # t_b
MAX_DETECTIONS = 100  # per image, as TIDE
IOU_BATCH_CELLS = 2_000_000  # IoU cells of one padded batch of images (16 MB in float64)
MAIN_TYPES = ("classification", "localization", "both", "duplicate", "background", "missed")
SPECIAL_TYPES = ("false_positive", "false_negative")
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
ERROR_COLUMNS = (
    "image",
    "id",
    "type",
    "prediction",
    "object",
    "predicted_class",
    "true_class",
    "score",
    "iou",
    "oracle_fix",  # the oracle turns this detection into its object's true positive
)


@dataclass(frozen=True)
class TideResult:
    """Every error typed, counted, and each type's dAP (fractions of AP@0.5, like mAP)."""

    errors: pd.DataFrame  # one row per erroneous detection or missed object, ERROR_COLUMNS
    ap_50: float  # TIDE's AP@0.5 of the predictions as they are
    delta_ap: dict[str, float]  # MAIN_TYPES then SPECIAL_TYPES -> AP gained by the oracle

    @property
    def counts(self) -> dict[str, int]:
        found = self.errors["type"].value_counts()
        return {kind: int(found.get(kind, 0)) for kind in MAIN_TYPES}

    def as_dict(self) -> dict[str, Any]:
        return {"ap_50": self.ap_50, "counts": self.counts, "delta_ap": self.delta_ap}


def tide_errors(
    box_table: pd.DataFrame,
    predictions: Sequence[Any],
    image_ids: Sequence[str],
    classes: Sequence[str],
) -> TideResult:
    """TIDE on `predictions` (one per image of `image_ids`) against the box table."""
    return tide_of(evaluation_set(box_table, predictions, image_ids, classes))


def tide_of(data: EvaluationSet) -> TideResult:
    """`tide_errors` on an already joined evaluation set."""
    points = _Points(len(data.classes))
    rows: list[tuple] = []
    preds = _ranked(data.pred_image, -data.pred_score, data.images, MAX_DETECTIONS)
    truth = _ranked(data.truth_image, data.truth_object, data.images)
    for image, iou in enumerate(_ious(data, preds, truth)):
        _type_image(data, image, preds[image], truth[image], iou, points, rows)
    errors = pd.DataFrame(rows, columns=list(ERROR_COLUMNS))
    names = np.array([*data.classes, ""], dtype=object)  # -1 reads as ""
    errors["id"] = np.asarray(data.image_ids, dtype=object)[errors["image"].to_numpy(int)]
    for column in ("predicted_class", "true_class"):
        errors[column] = names[errors[column].to_numpy(int)]
    return TideResult(errors=errors, ap_50=points.map(), delta_ap=points.delta_ap())


class _Points:
    """TIDE's AP data: one point (class, score, true?) per detection, with what fixes each."""

    def __init__(self, classes: int) -> None:
        self.classes = classes
        self.truths = np.zeros(classes, dtype=np.int64)
        self.cls: list[int] = []
        self.score: list[float] = []
        self.true: list[bool] = []
        self.kind: list[str] = []  # "" for a true positive
        self.fixed_cls: list[int] = []  # class of the point once fixed, -1: dropped by the fix
        self.missed: list[int] = []  # class of each missed object
        self.unmatched: list[int] = []  # class of each unmatched object (missed or not)

    def add(self, cls: int, score: float, kind: str, fixed_cls: int = -1) -> None:
        self.cls.append(cls)
        self.score.append(score)
        self.true.append(kind == "")
        self.kind.append(kind)
        self.fixed_cls.append(fixed_cls)

    def map(
        self,
        cls: np.ndarray | None = None,
        score: np.ndarray | None = None,
        true: np.ndarray | None = None,
        truths: np.ndarray | None = None,
    ) -> float:
        """TIDE's mAP: 101-point AP per class with objects or detections, averaged."""
        cls = np.asarray(self.cls if cls is None else cls, dtype=np.int64)
        score = np.asarray(self.score if score is None else score, dtype=np.float64)
        true = np.asarray(self.true if true is None else true, dtype=bool)
        truths = self.truths if truths is None else truths
        order = np.lexsort((-score, cls))  # by class, then by descending score (stable)
        cls, true = cls[order], true[order]
        bounds = np.searchsorted(cls, np.arange(self.classes + 1))
        aps = []
        for k in range(self.classes):
            hits = true[bounds[k] : bounds[k + 1]]
            if len(hits) == 0 and truths[k] == 0:
                continue
            aps.append(_average_precision(hits, int(truths[k])))
        return float(np.mean(aps)) if aps else math.nan

    def delta_ap(self) -> dict[str, float]:
        base = self.map()
        cls = np.asarray(self.cls, dtype=np.int64)
        score = np.asarray(self.score, dtype=np.float64)
        true = np.asarray(self.true, dtype=bool)
        kind = np.asarray(self.kind, dtype=object)
        fixed_cls = np.asarray(self.fixed_cls, dtype=np.int64)
        out = {}
        for error in MAIN_TYPES:
            if error == "missed":
                truths = self.truths - np.bincount(self.missed, minlength=self.classes)
                fixed = self.map(truths=truths)
            else:
                hit = kind == error
                keep = ~hit | (fixed_cls >= 0)
                fixed = self.map(
                    np.where(hit, fixed_cls, cls)[keep], score[keep], (true | hit)[keep]
                )
            # Negative only through interpolation bins: TIDE clips it to 0.
            out[error] = max(fixed - base, 0.0)
        out["false_positive"] = self.map(score=np.where(true, 1.0, 0.0)) - base
        unmatched = np.bincount(self.unmatched, minlength=self.classes)
        out["false_negative"] = self.map(truths=self.truths - unmatched) - base
        return out


def _average_precision(hits: np.ndarray, truths: int) -> float:
    """COCO's 101-point interpolated AP of score-ordered hits against `truths` objects."""
    if truths == 0:
        return 0.0
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / truths
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    at = np.searchsorted(recall, RECALL_POINTS, side="left")
    padded = np.append(envelope, 0.0)
    return float(padded[at].mean())


def _ranked(
    image: np.ndarray, key: np.ndarray, images: int, cap: int | None = None
) -> list[np.ndarray]:
    """Row positions of each image's entries, ordered by `key` (stable), at most `cap`."""
    order = np.lexsort((key, image))
    groups = np.split(order, np.searchsorted(image[order], np.arange(1, images)))
    return [group[:cap] for group in groups]


def _ious(data: EvaluationSet, preds: list[np.ndarray], truth: list[np.ndarray]):
    """Each image's (detections, objects) IoU, by the package's box_iou mapped over padded
    batches of images: one vectorised call per batch instead of one per image."""
    pred_count = np.array([len(p) for p in preds], dtype=np.int64)
    truth_count = np.array([len(t) for t in truth], dtype=np.int64)
    cells = max(1, int(pred_count.max(initial=0)) * int(truth_count.max(initial=0)))
    batch = max(1, IOU_BATCH_CELLS // cells)
    pairwise = torch.vmap(box_iou)
    for start in range(0, data.images, batch):
        stop = min(start + batch, data.images)
        width_d = max(1, int(pred_count[start:stop].max()))
        width_g = max(1, int(truth_count[start:stop].max()))
        a = np.zeros((stop - start, width_d, 4))
        b = np.zeros((stop - start, width_g, 4))
        for n in range(start, stop):
            a[n - start, : pred_count[n]] = data.pred_boxes[preds[n]]
            b[n - start, : truth_count[n]] = data.truth_boxes[truth[n]]
        iou = pairwise(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        for n in range(start, stop):
            yield iou[n - start, : pred_count[n], : truth_count[n]]


def _type_image(
    data: EvaluationSet,
    image: int,
    preds: np.ndarray,
    truth: np.ndarray,
    iou: np.ndarray,
    points: _Points,
    rows: list[tuple],
) -> None:
    """Match one image's detections (by descending score), type each false positive and
    missed object."""
    truth_cls = data.truth_class[truth]
    pred_cls = data.pred_class[preds]
    np.add.at(points.truths, truth_cls, 1)
    same = pred_cls[:, None] == truth_cls[None, :]
    cls_iou = iou * same
    buffer = cls_iou.copy()
    used = np.zeros(len(truth), dtype=bool)
    unmatched: list[int] = []
    for d in range(len(preds)):
        g = int(buffer[d].argmax()) if len(truth) else -1
        if g >= 0 and buffer[d, g] >= FOREGROUND_IOU:
            used[g] = True
            buffer[:, g] = 0.0
            points.add(int(pred_cls[d]), float(data.pred_score[preds[d]]), "")
        else:
            unmatched.append(d)
    typed = [(d, *_error_type(iou[d], cls_iou[d], same[d], used)) for d in unmatched]
    best: dict[int, int] = {}  # object -> its highest-scoring loc / cls error (fixed by TIDE)
    for d, kind, g in typed:  # in descending score, so the first one seen is the best
        if kind in ("localization", "classification") and not used[g]:
            best.setdefault(g, d)
    for d, kind, g in typed:
        fixes = g >= 0 and best.get(g) == d
        score = float(data.pred_score[preds[d]])
        points.add(int(pred_cls[d]), score, kind, int(truth_cls[g]) if fixes else -1)
        rows.append(
            (
                image,
                None,
                kind,
                int(data.pred_index[preds[d]]),
                int(data.truth_object[truth[g]]) if g >= 0 else -1,
                int(pred_cls[d]),
                int(truth_cls[g]) if g >= 0 else -1,
                score,
                float(iou[d, g]) if g >= 0 else float(iou[d].max(initial=0.0)),
                fixes,
            )
        )
    for g in np.flatnonzero(~used):
        points.unmatched.append(int(truth_cls[g]))
        if g in best:  # fixing its loc / cls error recovers it: not missed
            continue
        points.missed.append(int(truth_cls[g]))
        rows.append(
            (
                image,
                None,
                "missed",
                -1,
                int(data.truth_object[truth[g]]),
                -1,
                int(truth_cls[g]),
                math.nan,
                float(iou[:, g].max(initial=0.0)),
                False,
            )
        )


def _error_type(
    iou: np.ndarray, cls_iou: np.ndarray, same: np.ndarray, used: np.ndarray
) -> tuple[str, int]:
    """TIDE's type of one unmatched detection, and the object it is about (-1: none)."""
    if len(iou) == 0:
        return "background", -1
    g = int(cls_iou.argmax())
    if BACKGROUND_IOU <= cls_iou[g] <= FOREGROUND_IOU:
        return "localization", g
    other = iou * ~same
    g = int(other.argmax())
    if other[g] >= FOREGROUND_IOU:
        return "classification", g
    used_same = cls_iou * used
    g = int(used_same.argmax())
    if used_same[g] >= FOREGROUND_IOU:
        return "duplicate", g
    g = int(iou.argmax())
    if iou[g] <= BACKGROUND_IOU:
        return "background", -1
    return "both", g
