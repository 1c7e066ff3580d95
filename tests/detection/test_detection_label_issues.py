"""cleanlab.object_detection finds planted overlooked, swapped and badly located boxes."""

from __future__ import annotations

import numpy as np
import pytest
from cleanlab.object_detection.filter import find_label_issues
from helpers.detection_sets import as_detections, box_table

from traindev.tasks.detection.evaluation_inputs import evaluation_set
from traindev.tasks.detection.label_issues import cleanlab_inputs, detection_label_issues

CLASSES = ["zero", "one", "two"]


def _clean_set(images: int, seed: int):
    """Three well-separated objects per image, and a good model's predictions of them: the
    true box, nudged, at a high score for its class and low scores for the others."""
    rng = np.random.default_rng(seed)
    ids = [f"img{i:03d}" for i in range(images)]
    objects, predictions = [], []
    for image in ids:
        corners = np.array([[2, 2], [34, 4], [14, 36]]) + rng.uniform(0, 6, (3, 2))
        boxes = np.column_stack([corners, corners + rng.uniform(14, 22, (3, 2))])
        labels = rng.integers(0, len(CLASSES), 3)
        objects += [(image, CLASSES[k], b) for k, b in zip(labels, boxes, strict=True)]
        pred_boxes, scores, classes = [], [], []
        for box, label in zip(boxes, labels, strict=True):
            for k in range(len(CLASSES)):
                pred_boxes.append(box + rng.normal(0, 0.5, 4))
                scores.append(rng.uniform(0.96, 0.999) if k == label else rng.uniform(0.0, 0.05))
                classes.append(k)
        predictions.append(as_detections(np.array(pred_boxes), np.array(scores), np.array(classes)))
    return box_table(objects), predictions, ids


@pytest.fixture(scope="module")
def planted():
    table, predictions, ids = _clean_set(40, seed=0)
    # Image 3 loses its first object's annotation; image 7's second object gets another class;
    # image 11's third object's box is moved by most of its width.
    table = table.drop(table[(table.id == "img003") & (table.object == 0)].index)
    swapped = (table.id == "img007") & (table.object == 1)
    given = CLASSES.index(table.loc[swapped, "label"].item())
    table.loc[swapped, "label"] = CLASSES[(given + 1) % len(CLASSES)]
    moved = (table.id == "img011") & (table.object == 2)
    table.loc[moved, ["x_min", "x_max"]] += 12.0
    issues = detection_label_issues(table, predictions, ids, CLASSES, score_threshold=0.5)
    return table, predictions, ids, issues


def test_each_planted_error_is_flagged_with_its_type_at_the_top(planted) -> None:
    *_, issues = planted

    boxes = issues.boxes
    found = {(row.id, row.type) for row in boxes.itertuples()}
    assert {("img003", "overlooked"), ("img007", "swapped"), ("img011", "badly_located")} <= found
    assert set(boxes["id"]) == {"img003", "img007", "img011"}, boxes
    assert boxes["rank"].tolist() == list(range(1, len(boxes) + 1))
    assert boxes["score"].is_monotonic_increasing
    swapped = boxes[boxes.type == "swapped"].iloc[0]
    assert swapped["object"] == 1 and swapped["prediction"] == -1
    overlooked = boxes[boxes.type == "overlooked"].iloc[0]
    assert overlooked["object"] == -1 and overlooked["prediction"] >= 0
    assert sorted(issues.ranked_images.tolist()) == [3, 7, 11]


def test_images_flagged_are_those_cleanlab_flags(planted) -> None:
    table, predictions, ids, issues = planted

    labels, cleanlab_predictions = cleanlab_inputs(evaluation_set(table, predictions, ids, CLASSES))

    assert issues.image_flagged.tolist() == find_label_issues(labels, cleanlab_predictions).tolist()


def test_metrics_are_recomputed_without_the_flagged_images(planted) -> None:
    _, _, ids, issues = planted

    without = issues.without_flagged
    assert without.images == len(ids) - 3
    assert without.image_error == 0.0 and without.map_50 == pytest.approx(1.0)
    assert issues.as_dict(top=2)["flagged_images"] == 3
