"""Detection's scorer for evaluate: per-image errors the five-row table reads, mAP per split,
the dev confusion with misses and false detections, and the detection table analyze reads."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from helpers.oracle_detector import OracleDetector
from helpers.rectangle_canvases import rectangle_canvases
from pydantic import ValidationError

from traindev import paths
from traindev.config import DetectionScoringParams, EvaluateParams
from traindev.records.metrics import SplitMetrics
from traindev.tasks.detection.box_table import write_boxes
from traindev.tasks.detection.detection_table import read_detections
from traindev.tasks.detection.scoring import (
    BACKGROUND,
    score,
    score_detections,
)
from traindev.tasks.detection.spec import NOT_WIRED
from traindev.tasks.detection.targets import YoloTargets
from traindev.tasks.scoring import task_scorer

CPU = torch.device("cpu")
TARGETS = YoloTargets((32, 32), 8, torch.tensor([[1.0, 1.0], [2.0, 2.0]]), 3)


@pytest.fixture(scope="module")
def canvases():
    return rectangle_canvases(n=32, objects=3)


def scored(store, boxes, answers):
    rows = np.arange(len(store.manifest))
    model = OracleDetector(store, answers, TARGETS)
    return score_detections(model, store, rows, boxes, TARGETS, EvaluateParams(), CPU)


def test_a_detector_finding_every_box_has_no_image_error_and_full_map(canvases):
    store, boxes = canvases
    scores = scored(store, boxes, boxes)
    assert not scores.wrong.any()
    for name in ("train", "dev"):
        figures = scores.per_split[name]
        assert figures["error"] == 0.0 and figures["map_50"] == pytest.approx(1.0)
        assert figures["recall"] == 1.0 and figures["false_detections"] == 0
        SplitMetrics.model_validate(figures)  # the metrics record takes them as they are
    assert scores.per_split["test"] == {"count": 0}
    assert scores.per_split["dev"]["count"] == 8


def test_a_missed_object_and_a_wrong_class_make_their_images_wrong(canvases):
    store, boxes = canvases
    dev_ids = store.manifest.loc[store.manifest["split"] == "dev", "id"].tolist()
    missed, swapped = dev_ids[0], dev_ids[1]
    answers = boxes[~((boxes["id"] == missed) & (boxes["object"] == 0))].copy()
    first = answers.index[answers["id"] == swapped][0]
    true_class = answers.loc[first, "label"]
    answers.loc[first, "label"] = "dim" if true_class != "dim" else "mid"
    scores = scored(store, boxes, answers)

    wrong_ids = set(scores.predictions.loc[scores.wrong, "id"])
    assert wrong_ids == {missed, swapped}
    dev = scores.per_split["dev"]
    assert dev["error"] == pytest.approx(2 / 8)
    assert dev["missed"] == 2 and dev["false_detections"] == 1  # the swap: one of each
    assert dev["map_50"] < 1.0 and scores.per_split["train"]["error"] == 0.0
    confusion = scores.confusion
    assert confusion.loc[true_class, answers.loc[first, "label"]] == 1  # the swap, as a swap
    assert confusion.loc[boxes.loc[boxes["id"] == missed, "label"].iloc[0], BACKGROUND] >= 1
    assert confusion.to_numpy().sum() == dev["true_positives"] + 2


def test_the_detection_table_reads_back_as_the_same_detections(canvases):
    store, boxes = canvases
    scores = scored(store, boxes, boxes)
    table = scores.tables[paths.DETECTIONS_FILE]
    assert len(table) == len(boxes)
    ids = scores.predictions["id"].tolist()
    back = read_detections(table, ids, store.classes)
    counts = boxes["id"].value_counts().reindex(ids, fill_value=0).tolist()
    assert [len(d.scores) for d in back] == counts
    assert (scores.predictions["detections"] == counts).all()


def test_evaluate_scores_a_detector_from_the_box_table_beside_the_store(canvases, tmp_path):
    store, boxes = canvases
    write_boxes(tmp_path / paths.BOXES_FILE, boxes)
    placed = type(store)(store.manifest, store.pixels, store.classes, store.pixel_max, tmp_path)
    scorer = task_scorer("detection")
    assert scorer is score
    model = OracleDetector(store, boxes, TARGETS)
    trained = SimpleNamespace(yolo_targets=lambda: TARGETS)  # Checkpoint's decoding side
    scores = scorer(model, placed, np.arange(32), EvaluateParams(), CPU, checkpoint=trained)
    assert scores.per_split["dev"]["error"] == 0.0
    with pytest.raises(ValueError, match="checkpoint"):
        scorer(model, placed, np.arange(32), EvaluateParams(), CPU)
    assert not any(part.startswith("evaluate") for part in NOT_WIRED)


def test_the_curve_threshold_may_not_exceed_the_operating_threshold():
    with pytest.raises(ValidationError, match="curve_threshold"):
        DetectionScoringParams(score_threshold=0.3, curve_threshold=0.5)
