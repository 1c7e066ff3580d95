"""mAP by pycocotools, precision / recall at the operating threshold, the per-image error."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
from helpers.detection_sets import box_table, detections, jittered_set
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from traindev.tasks.detection.metrics import detection_metrics

SQUARE = (0.0, 0.0, 10.0, 10.0)
SHIFTED = (5.0, 0.0, 15.0, 10.0)  # IoU 1/3 with SQUARE


def test_a_hand_checkable_case_gives_51_of_101() -> None:
    """A hit at 0.9 and a miss-placed box at 0.8: precision 1 up to recall 0.5, then nothing,
    so 51 of COCO's 101 recall points have precision 1, at every IoU threshold."""
    table = box_table([("a", "digit", SQUARE), ("b", "digit", SQUARE)])
    predictions = [detections((SQUARE, 0.9, 0)), detections((SHIFTED, 0.8, 0))]

    metrics = detection_metrics(table, predictions, ["a", "b"], ["digit"])

    assert metrics.map_50 == pytest.approx(51 / 101)
    assert metrics.map_50_95 == pytest.approx(51 / 101)
    assert metrics.ap_50 == {"digit": pytest.approx(51 / 101)}
    assert (metrics.precision, metrics.recall) == (0.5, 0.5)
    assert (metrics.true_positives, metrics.false_detections, metrics.missed) == (1, 1, 1)
    assert metrics.image_wrong.tolist() == [False, True]
    assert metrics.image_error == 0.5


def _pycocotools_reference(table, predictions, ids, classes) -> COCOeval:
    """The default COCOeval run, as its documentation shows it (loadRes, summarize)."""
    truth = COCO()
    truth.dataset = {
        "images": [{"id": i} for i in range(len(ids))],
        "categories": [{"id": k + 1} for k in range(len(classes))],
        "annotations": [
            {
                "id": n + 1,
                "image_id": ids.index(row.id),
                "category_id": classes.index(row.label) + 1,
                "bbox": [row.x_min, row.y_min, row.x_max - row.x_min, row.y_max - row.y_min],
                "area": float((row.x_max - row.x_min) * (row.y_max - row.y_min)),
                "iscrowd": 0,
            }
            for n, row in enumerate(table.itertuples())
        ],
    }
    results = [
        {
            "image_id": i,
            "category_id": int(c) + 1,
            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
            "score": float(s),
        }
        for i, p in enumerate(predictions)
        for b, s, c in zip(p.boxes.tolist(), p.scores, p.classes, strict=True)
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        truth.createIndex()
        evaluator = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def test_map_equals_a_default_pycocotools_run() -> None:
    classes = ["zero", "one", "two"]
    table, predictions, ids = jittered_set(200, classes, seed=3)

    ours = detection_metrics(table, predictions, ids, classes)
    reference = _pycocotools_reference(table, predictions, ids, classes)

    assert 0.2 < ours.map_50 < 0.95  # a fixture that exercises both hits and errors
    assert ours.map_50_95 == pytest.approx(reference.stats[0], abs=1e-12)
    assert ours.map_50 == pytest.approx(reference.stats[1], abs=1e-12)
    precision = reference.eval["precision"][0, :, :, 0, -1]
    for k, name in enumerate(classes):
        assert ours.ap_50[name] == pytest.approx(precision[:, k][precision[:, k] > -1].mean())


def test_precision_and_recall_count_only_detections_at_the_operating_threshold() -> None:
    table = box_table([("a", "digit", SQUARE), ("b", "digit", SQUARE)])
    predictions = [
        detections((SQUARE, 0.9, 0), ((30, 30, 40, 40), 0.3, 0)),
        detections((SQUARE, 0.5, 0)),
    ]

    everything = detection_metrics(table, predictions, ["a", "b"], ["digit"])
    operating = detection_metrics(table, predictions, ["a", "b"], ["digit"], score_threshold=0.6)

    assert (everything.precision, everything.recall) == (2 / 3, 1.0)
    assert everything.image_wrong.tolist() == [True, False]
    assert (operating.precision, operating.recall) == (1.0, 0.5)
    assert operating.image_wrong.tolist() == [False, True]
    assert operating.map_50 == everything.map_50  # mAP always uses every prediction


@pytest.mark.parametrize(
    ("truth", "predicted", "wrong"),
    [
        pytest.param([SQUARE], [(SQUARE, 0.9, 0)], False, id="found"),
        pytest.param([SQUARE], [], True, id="missed object"),
        pytest.param([SQUARE], [(SQUARE, 0.9, 1)], True, id="wrong class"),
        pytest.param([SQUARE], [(SHIFTED, 0.9, 0)], True, id="iou below 0.5"),
        pytest.param([SQUARE], [((0, 0, 10, 20), 0.9, 0)], False, id="iou exactly 0.5"),
        pytest.param([SQUARE], [(SQUARE, 0.9, 0), (SQUARE, 0.8, 0)], True, id="duplicate"),
        pytest.param([], [], False, id="empty image, nothing detected"),
        pytest.param([], [(SQUARE, 0.9, 0)], True, id="detection on an empty image"),
        pytest.param(
            [SQUARE, (20, 20, 30, 30)],
            [((20, 20, 30, 30), 0.7, 0), (SQUARE, 0.9, 0)],
            False,
            id="two objects, each found",
        ),
    ],
)
def test_the_per_image_error(truth, predicted, wrong) -> None:
    table = box_table([("a", "zero", box) for box in truth])
    predictions = [detections(*predicted)]

    metrics = detection_metrics(table, predictions, ["a"], ["zero", "one"])

    assert metrics.image_wrong.tolist() == [wrong]


def test_the_per_image_error_follows_the_given_image_order() -> None:
    table = box_table([("b", "digit", SQUARE), ("a", "digit", SQUARE), ("x", "digit", SQUARE)])
    predictions = [detections(), detections((SQUARE, 0.9, 0)), detections()]

    metrics = detection_metrics(table, predictions, ["c", "b", "a"], ["digit"])

    assert metrics.image_wrong.tolist() == [False, False, True]  # image x is not evaluated
    assert metrics.missed == 1


def test_metrics_accept_tensors_and_print_nothing(capsys) -> None:
    table = box_table([("a", "digit", SQUARE)])
    tensors = {
        "boxes": torch.tensor([SQUARE], dtype=torch.bfloat16),
        "scores": torch.tensor([0.9], dtype=torch.float16),
        "classes": torch.tensor([0]),
    }

    metrics = detection_metrics(table, [tensors], ["a"], ["digit"])

    assert metrics.map_50 == pytest.approx(1.0)
    assert capsys.readouterr().out == ""


def test_a_class_without_objects_is_left_out_of_the_mean() -> None:
    table = box_table([("a", "zero", SQUARE)])
    predictions = [detections((SQUARE, 0.9, 0), ((30, 30, 40, 40), 0.8, 1))]

    metrics = detection_metrics(table, predictions, ["a"], ["zero", "one"])

    assert metrics.map_50 == pytest.approx(1.0)
    assert list(metrics.ap_50) == ["zero"]
    assert np.isfinite(metrics.precision_curve).all() and len(metrics.recall_grid) == 101


def test_an_inverted_box_is_refused() -> None:
    table = box_table([("a", "digit", SQUARE)])
    with pytest.raises(ValueError, match="1 predicted boxes have x_max < x_min"):
        detection_metrics(table, [detections(((10, 0, 5, 10), 0.9, 0))], ["a"], ["digit"])
