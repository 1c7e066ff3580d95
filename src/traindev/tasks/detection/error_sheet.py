"""The error-analysis sheet for detection: one row per dev erroneous detection or missed object.

The rows are TIDE's (`tide.tide_of`): each false positive typed classification, localization,
both, duplicate or background, and each missed object. The sheet is classification's
(`analysis.sheet`), written and read back by the same code, with three differences:

- a row's id names the error, not the image: `<image id>.o<object>` for a missed object (the
  box table's object index, stable across retraining) and `<image id>.d<hash>` for a detection
  (a hash of its class and its box rounded to whole pixels, so a retrained model's detection
  at the same place keeps its row and a reviewer's ticks carry over); `label` is the true class
  of the object the error is about (empty for a background detection), `prediction` the
  detected class (empty for a missed object), `confidence` the detection's score;
- detail columns after `domain`: `image` (the image id), `type` (TIDE's type, pre-filled; a
  reviewer may correct it and it is counted as "type = ..." categories) and `iou` (the best IoU
  the typing used);
- computed tick columns from the geometry of the box the row is about (the object's, else the
  detection's): `small_box` (side sqrt(w h) below `canvases.size_edges[0]`, the canvases' own
  "small"), `overlapping` (IoU above 0 with another true object of the image) and `at_edge`
  (within a pixel of the image border: a cut-off object), then the user's categories, then
  `incorrectly_labeled`, pre-ticked where cleanlab flags the row's object (swapped or badly
  located) or its detection (an overlooked object).

The sample is drawn per image (`analysis.sheet.sample_by_id` on image ids) and keeps every error
of a drawn image: an image is right only once all its errors are fixed, so the ceilings read
back from the sheet are on the dev image error (the five-row table's unit), per image
(`review.category_table(units=...)`). TIDE's dAP is the same ceiling on mAP@0.5, per type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from traindev.analysis.review import ErrorTable, category_table, read_review
from traindev.analysis.sheet import (
    SheetFiles,
    build_sheet,
    sample_by_id,
    sheet_categories,
    write_sheet,
)
from traindev.data.sources.candidates import META_PREFIX
from traindev.tasks.detection.boxes import box_iou
from traindev.tasks.detection.drawing import (
    DRAWN_SIZE,
    ERROR_COLOUR,
    OTHER_COLOUR,
    TRUE_COLOUR,
    BoxLayer,
    draw_boxes,
)
from traindev.tasks.detection.evaluation_inputs import EvaluationSet
from traindev.tasks.detection.label_issues import DetectionLabelIssues
from traindev.tasks.detection.tide import TideResult

DETECTION_FLAGS = ("small_box", "overlapping", "at_edge")
DETAIL_COLUMNS = ("image", "type", "iou")
NEVER_CATEGORIES = ("image", "iou")  # one image per row; a measurement, not a category
SMALL_SIDE = 16  # pixels; canvases.size_edges[0], the canvases' "small"
EDGE_MARGIN = 1.0  # pixels from the border that count as touching it
IMAGE_FRAME_COLUMNS = ("id", "domain", "tags")
LEGEND = (
    "Thumbnails: true objects green with their class (the row's object thicker), the row's "
    "detection magenta with class and score, the image's other detections orange."
)


@dataclass(frozen=True)
class DetectionSheet:
    """The sheet (columns exactly the CSV's, sorted by row id) and, per sheet row, the image
    it shows and the boxes to draw on it."""

    sheet: pd.DataFrame
    image_ids: tuple[str, ...]
    layers: tuple[BoxLayer, ...]


def error_keys(data: EvaluationSet, tide: TideResult) -> pd.Series:
    """The sheet id of each row of `tide.errors` (module docstring), same index."""
    errors = tide.errors
    keys = []
    for image, prediction, kind, obj in zip(
        errors["image"], errors["prediction"], errors["type"], errors["object"], strict=True
    ):
        image_id = data.image_ids[image]
        if kind == "missed":
            keys.append(f"{image_id}.o{obj}")
            continue
        row = data.predictions_of(image)[prediction]
        keys.append(f"{image_id}.d{_detection_hash(data, row)}")
    series = pd.Series(keys, index=errors.index, dtype=object)
    return _unique(series)


def detection_categories(user_categories: Sequence[str]) -> list[str]:
    """Every tick category of a detection sheet, in column order: what the read-back needs."""
    return sheet_categories(user_categories, DETECTION_FLAGS)


def build_detection_sheet(
    data: EvaluationSet,
    tide: TideResult,
    images: pd.DataFrame,
    user_categories: Sequence[str],
    sample_size: int,
    seed: int,
    label_issues: DetectionLabelIssues | None = None,
    small_side: float = SMALL_SIDE,
    image_size: tuple[int, int] | None = None,
) -> DetectionSheet:
    """The sheet of a seeded sample of `sample_size` erroneous dev images, every error of each.

    `images` has one row per image of `data` with at least id, domain and tags (the manifest's
    rows; its `meta.*` columns come along); `image_size` is (height, width) for `at_edge`
    (None: no image touches an edge, e.g. when sizes vary and are unknown).
    """
    errors = tide.errors.reset_index(drop=True)
    keys = error_keys(data, tide).reset_index(drop=True)
    erroneous = sorted(set(errors["image"].tolist()))
    chosen_ids = [data.image_ids[i] for i in erroneous]
    chosen = {erroneous[i] for i in sample_by_id(chosen_ids, sample_size, seed)}
    rows = errors[errors["image"].isin(chosen)]
    keys = keys[rows.index]
    frame = _frame(data, rows, keys, images)
    geometry = [_row_boxes(data, row) for row in rows.itertuples()]
    flags = _flags(data, rows, geometry, small_side, image_size)
    sheet = build_sheet(
        frame,
        flags,
        user_categories,
        _suggested(data, rows, keys, label_issues),
        detail_columns={
            "image": [data.image_ids[i] for i in rows["image"]],
            "type": rows["type"].tolist(),
            "iou": rows["iou"].astype(float).round(3).tolist(),
        },
    )
    order = [frame.index.get_loc(label) for label in sheet.index]
    layers = tuple(_layer(data, rows.iloc[position]) for position in order)
    image_ids = tuple(sheet["image"].astype(str))
    return DetectionSheet(sheet.reset_index(drop=True), image_ids, layers)


def write_detection_sheet(
    built: DetectionSheet,
    pixels_of: Mapping[str, np.ndarray],
    pixel_max: int,
    out_dir: Path,
    name: str,
    title: str,
    note: str = "",
) -> SheetFiles:
    """`<name>.csv`, `<name>.html` and the thumbnails with boxes drawn (drawing.py's colours).

    `pixels_of` maps an image id to its stored (H, W, C) image; the HTML's note starts with
    the colour legend (LEGEND), then `note`.
    """
    drawn = [
        draw_boxes(pixels_of[image_id], pixel_max, layer)
        for image_id, layer in zip(built.image_ids, built.layers, strict=True)
    ]
    pixels = np.stack(drawn) if drawn else np.zeros((0, DRAWN_SIZE, DRAWN_SIZE, 3), np.uint8)
    return write_sheet(
        built.sheet,
        pixels,
        255,
        out_dir,
        name,
        title,
        f"{LEGEND} {note}".strip(),
        thumbnail_size=DRAWN_SIZE,
    )


def read_detection_review(
    path: Path, user_categories: Sequence[str], template: Path | None = None
) -> pd.DataFrame:
    """The reviewed detection sheet, with classification's checks and messages."""
    return read_review(path, detection_categories(user_categories), template, DETAIL_COLUMNS)


def detection_error_table(
    review: pd.DataFrame,
    dev_image_error: float,
    current_keys: Collection[str],
    dev_image_ids: Collection[str],
) -> ErrorTable:
    """Per-category counts (per error) and ceilings on the dev image error (per image).

    `current_keys` are the sheet ids of every current dev error (`error_keys`): a reviewed row
    not among them is stale (the model no longer makes it), one whose image is not a dev image
    is unknown.
    """
    dev = set(map(str, dev_image_ids))
    ids = review["id"].astype(str)
    units = {key: image_of(key) for key in ids}
    known = {key for key, image in units.items() if image in dev} | set(current_keys)
    return category_table(review, dev_image_error, current_keys, known, NEVER_CATEGORIES, units)


def image_of(key: str) -> str:
    """The image id of a sheet row id (`<image id>.o<k>` or `<image id>.d<hash>`)."""
    return key.rpartition(".")[0] or key


def _detection_hash(data: EvaluationSet, row: int) -> str:
    box = np.rint(data.pred_boxes[row]).astype(np.int64).tolist()
    text = f"{data.classes[data.pred_class[row]]}:{box}"
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def _unique(keys: pd.Series) -> pd.Series:
    """Two detections of one class on the same rounded box (no NMS) get "-2", "-3", ..."""
    repeat = keys.groupby(keys).cumcount()
    return keys.where(repeat == 0, keys + "-" + (repeat + 1).astype(str))


def _frame(
    data: EvaluationSet, rows: pd.DataFrame, keys: pd.Series, images: pd.DataFrame
) -> pd.DataFrame:
    missing = [column for column in IMAGE_FRAME_COLUMNS if column not in images.columns]
    if missing:
        raise ValueError(f"the images' frame lacks columns {missing}")
    by_id = images.set_index(images["id"].astype(str), drop=False)
    image_ids = [data.image_ids[i] for i in rows["image"]]
    absent = sorted(set(image_ids) - set(by_id.index))
    if absent:
        raise ValueError(f"images {absent[:5]} have errors but no row in the images' frame")
    carried = ["domain", "tags", *(c for c in images.columns if str(c).startswith(META_PREFIX))]
    info = by_id.loc[image_ids, carried].reset_index(drop=True)
    info.index = rows.index
    score = rows["score"].astype(float)
    return pd.DataFrame(
        {
            "id": keys.to_numpy(),
            "label": rows["true_class"].to_numpy(),
            "prediction": rows["predicted_class"].to_numpy(),
            "confidence": score.to_numpy(),
        },
        index=rows.index,
    ).join(info)


def _row_boxes(data: EvaluationSet, row) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the box the row is about, the image's true boxes, the row's object's truth row or -1)"""
    truth = data.truth_of(row.image)
    own = truth[data.truth_object[truth] == row.object] if row.object >= 0 else truth[:0]
    if len(own):
        box = data.truth_boxes[own[0]]
    else:
        box = data.pred_boxes[data.predictions_of(row.image)[row.prediction]]
    return box, data.truth_boxes[truth], own


def _flags(
    data: EvaluationSet,
    rows: pd.DataFrame,
    geometry: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    small_side: float,
    image_size: tuple[int, int] | None,
) -> pd.DataFrame:
    small, overlapping, at_edge = [], [], []
    for (box, truths, own), row in zip(geometry, rows.itertuples(), strict=True):
        width, height = np.maximum(box[2:] - box[:2], 0.0)
        small.append(bool(np.sqrt(width * height) < small_side))
        first = data.truth_of(row.image)[:1]
        others = np.delete(truths, own - first[0], axis=0) if len(own) else truths
        overlapping.append(bool(len(others)) and bool((_iou(box, others) > 0).any()))
        if image_size is None:
            at_edge.append(False)
        else:
            high, wide = image_size
            edges = np.array([box[0], box[1], wide - box[2], high - box[3]])
            at_edge.append(bool((edges <= EDGE_MARGIN).any()))
    return pd.DataFrame(
        {"small_box": small, "overlapping": overlapping, "at_edge": at_edge}, dtype=bool
    )


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    return box_iou(torch.from_numpy(box[None]), torch.from_numpy(others))[0].numpy()


def _suggested(
    data: EvaluationSet,
    rows: pd.DataFrame,
    keys: pd.Series,
    issues: DetectionLabelIssues | None,
) -> dict[str, int]:
    """Row id -> cleanlab rank, where cleanlab flags the row's object or its detection."""
    if issues is None or issues.boxes.empty:
        return {}
    by_object: dict[tuple[str, int], int] = {}
    by_prediction: dict[tuple[str, int], int] = {}
    for entry in issues.boxes.itertuples():
        if entry.object >= 0:
            by_object.setdefault((str(entry.id), int(entry.object)), int(entry.rank))
        if entry.prediction >= 0:
            by_prediction.setdefault((str(entry.id), int(entry.prediction)), int(entry.rank))
    suggested = {}
    for key, row in zip(keys, rows.itertuples(), strict=True):
        image_id = data.image_ids[row.image]
        rank = by_object.get((image_id, int(row.object))) if row.object >= 0 else None
        if rank is None and row.prediction >= 0:
            rank = by_prediction.get((image_id, int(row.prediction)))
        if rank is not None:
            suggested[key] = rank
    return suggested


def _layer(data: EvaluationSet, row: pd.Series) -> BoxLayer:
    """Every true object (the row's own thicker), the other detections, the row's detection."""
    image = int(row["image"])
    truth = data.truth_of(image)
    preds = data.predictions_of(image)
    layer = BoxLayer()
    own = data.truth_object[truth] == row["object"]
    names = [data.classes[k] for k in data.truth_class[truth]]
    layer.add(data.truth_boxes[truth][~own], np.asarray(names)[~own], TRUE_COLOUR, 1)
    layer.add(data.truth_boxes[truth][own], np.asarray(names)[own], TRUE_COLOUR, 2)
    mine = int(row["prediction"])
    others = [p for position, p in enumerate(preds) if position != mine]
    layer.add(data.pred_boxes[others], [""] * len(others), OTHER_COLOUR, 1)
    if mine >= 0:
        p = preds[mine]
        caption = f"{data.classes[data.pred_class[p]]} {data.pred_score[p]:.2f}"
        layer.add(data.pred_boxes[p], [caption], ERROR_COLOUR, 2)
    return layer
