"""analyze for a detector, read back from evaluate's files: per-split metrics equal to
evaluate's, TIDE typing the dev errors, label issues on dev and test, the gallery drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from helpers.oracle_detector import OracleDetector
from helpers.rectangle_canvases import rectangle_canvases

from traindev import paths
from traindev.config import EvaluateParams, Params
from traindev.data.store import write_store
from traindev.records.detection import DetectionAnalysisRecord
from traindev.records.io import read_record
from traindev.stages import analyze
from traindev.tasks.detection.analysis import analyze_detections
from traindev.tasks.detection.box_table import write_boxes
from traindev.tasks.detection.scoring import score_detections
from traindev.tasks.detection.targets import YoloTargets

TARGETS = YoloTargets((32, 32), 8, torch.tensor([[1.0, 1.0], [2.0, 2.0]]), 3)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    store, boxes = rectangle_canvases(n=32, objects=3)
    split = store.manifest.set_index("id")["split"]
    dev = boxes[boxes["id"].map(split) == "dev"]
    missed, shifted = dev.index[0], dev.index[-1]
    answers = boxes.drop(index=missed).copy()
    width = answers.loc[shifted, "x_max"] - answers.loc[shifted, "x_min"]
    answers.loc[shifted, ["x_min", "x_max"]] += 0.6 * width  # IoU ~0.25: a localization error
    model = OracleDetector(store, answers, TARGETS)
    rows = np.arange(len(store.manifest))
    scores = score_detections(
        model, store, rows, boxes, TARGETS, EvaluateParams(), torch.device("cpu")
    )
    out = tmp_path_factory.mktemp("analysis")
    record = analyze_detections(
        store, boxes, scores.tables[paths.DETECTIONS_FILE], scores.predictions, 0.6, out
    )
    return record, scores, out, boxes.loc[[missed, shifted], "id"].tolist()


def test_the_analysis_metrics_read_back_what_evaluate_measured(analysed):
    record, scores, _, _ = analysed
    assert DetectionAnalysisRecord.model_validate_json(record.model_dump_json()) == record
    for name, figures in record.splits.items():
        assert figures.image_error == pytest.approx(scores.per_split[name]["error"])
        assert figures.map_50 == pytest.approx(scores.per_split[name]["map_50"])
        assert len(figures.precision_curve) == 101
    assert set(record.splits) == {"train", "dev"}


def test_tide_types_the_dev_miss_and_the_shifted_box(analysed):
    record, _, out, wrong_ids = analysed
    assert record.tide.counts["missed"] == 1 and record.tide.counts["localization"] == 1
    assert record.tide.delta_ap["localization"] > 0 and record.tide.ap_50 < 1
    errors = pd.read_parquet(out / paths.TIDE_ERRORS_FILE)
    assert set(errors["id"]) == set(wrong_ids)


def test_the_gallery_shows_the_wrong_dev_images_first_with_thumbnails(analysed):
    record, _, out, wrong_ids = analysed
    wrong = {entry.id for entry in record.gallery if entry.wrong}
    assert wrong == set(wrong_ids)
    assert [entry.wrong for entry in record.gallery] == sorted(
        (entry.wrong for entry in record.gallery), reverse=True
    )
    assert all((out / entry.thumbnail).is_file() for entry in record.gallery)


def test_label_issues_cover_the_held_out_splits_and_match_their_table(analysed):
    record, _, out, _ = analysed
    assert set(record.label_issues) == {"dev"}  # no test split in this store
    table = pd.read_parquet(out / paths.DETECTION_LABEL_ISSUES_FILE)
    assert sum(record.label_issues["dev"].counts.values()) == len(table)
    assert record.label_issues["dev"].without_flagged.images <= 8


def test_the_analyze_stage_writes_a_detectors_record_and_folder(
    tmp_path, monkeypatch, default_params
):
    store, boxes = rectangle_canvases(n=16, objects=2)
    model = OracleDetector(store, boxes, TARGETS)
    rows = np.arange(len(store.manifest))
    scores = score_detections(
        model, store, rows, boxes, TARGETS, EvaluateParams(), torch.device("cpu")
    )
    monkeypatch.chdir(tmp_path)
    manifest = store.manifest.assign(label=store.classes[0])  # canvases: the largest object's
    write_store(paths.SPLIT, manifest, store.pixels, store.classes, store.pixel_max)
    write_boxes(paths.SPLIT / paths.BOXES_FILE, boxes)
    evaluation = paths.evaluation_dir("yolo")
    evaluation.mkdir(parents=True)
    scores.predictions.to_parquet(evaluation / paths.PREDICTIONS_FILE, index=False)
    scores.tables[paths.DETECTIONS_FILE].to_parquet(evaluation / paths.DETECTIONS_FILE)
    params = Params.model_validate({**default_params, "task": "detection"})

    message = analyze.run_detection(params, "yolo")

    record = read_record(paths.analysis_file("yolo"), DetectionAnalysisRecord)
    assert record.splits["dev"].image_error == 0.0 and "dev mAP@0.5 1.000" in message
    assert (paths.analysis_dir("yolo") / paths.TIDE_ERRORS_FILE).is_file()
    assert all((paths.analysis_dir("yolo") / g.thumbnail).is_file() for g in record.gallery)
