"""Selection picks a detector by mAP (or the image error) from its metrics record, with no
detection code in selection: the scorer's per-split figures are selection metric names."""

from __future__ import annotations

import numpy as np
import torch
from helpers.oracle_detector import OracleDetector
from helpers.records import bias_variance, training
from helpers.rectangle_canvases import rectangle_canvases

from traindev.config import EvaluateParams
from traindev.records.metrics import MetricsRecord
from traindev.selection.candidates import candidate_from_files
from traindev.selection.rules import select_model
from traindev.tasks.detection.scoring import score_detections
from traindev.tasks.detection.targets import YoloTargets

TARGETS = YoloTargets((32, 32), 8, torch.tensor([[1.0, 1.0], [2.0, 2.0]]), 3)


def detector_metrics(store, boxes, answers) -> MetricsRecord:
    model = OracleDetector(store, answers, TARGETS)
    rows = np.arange(len(store.manifest))
    scores = score_detections(
        model, store, rows, boxes, TARGETS, EvaluateParams(), torch.device("cpu")
    )
    return MetricsRecord(
        splits=scores.per_split, bias_variance=bias_variance((0.01, 0.0, 0.0, 0.0, 0.0))
    )


def test_the_detector_with_the_higher_dev_map_is_selected():
    store, boxes = rectangle_canvases(n=32, objects=3)
    dev = boxes[boxes["id"].isin(store.manifest.loc[store.manifest["split"] == "dev", "id"])]
    records = {
        "perfect": detector_metrics(store, boxes, boxes),
        "misses": detector_metrics(store, boxes, boxes.drop(index=dev.index[:3])),
    }
    candidates = [
        candidate_from_files(name, record, training(name)) for name, record in records.items()
    ]
    assert {"dev.map_50", "dev.map_50_95", "dev.error", "dev.recall"} <= set(candidates[1].metrics)
    assert candidates[1].metrics["dev.map_50"] < 1.0
    by_map = select_model(reversed(candidates), "dev.map_50", "maximize")
    by_error = select_model(reversed(candidates), "dev.error", "minimize")
    assert by_map.winner.name == by_error.winner.name == "perfect"
