"""Each wrong pixel gets one type; a type's ceiling is the mean IoU gained by fixing it."""

from __future__ import annotations

import numpy as np
import pytest

from traindev.tasks.segmentation.error_types import (
    ERROR_TYPES,
    boundary_band,
    segmentation_errors,
    split_mean_iou,
)
from traindev.tasks.segmentation.params import ErrorTypeParams

CLASSES = ["background", "a", "b"]


def _scene() -> tuple[np.ndarray, np.ndarray]:
    truth = np.zeros((1, 20, 20), np.uint8)
    truth[0, 2:8, 2:8] = 1  # matched object, one interior hole and one edge pixel wrong
    truth[0, 12:16, 12:16] = 2  # missed object
    truth[0, 2:6, 12:16] = 1  # object predicted as the other class
    prediction = truth.copy()
    prediction[0, 5, 5] = 0  # interior hole, 3 pixels from the edge
    prediction[0, 2, 2] = 0  # on the edge
    prediction[0, 12:16, 12:16] = 0
    prediction[0, 2:6, 12:16] = 2
    prediction[0, 17:19, 1:3] = 1  # object where the truth has none
    return prediction, truth


def test_each_wrong_pixel_gets_the_type_the_scene_built():
    prediction, truth = _scene()
    errors = segmentation_errors(
        prediction, truth, CLASSES, 0, 255, ErrorTypeParams(boundary_width=1)
    )
    by_type = errors.counts.groupby("type")["pixels"].sum().to_dict()
    assert by_type == {
        "interior": 1,
        "boundary": 1,
        "missed": 16,
        "confusion": 16,
        "false_object": 4,
    }
    assert errors.counts["pixels"].sum() == (prediction != truth).sum()
    confused = errors.counts[errors.counts["type"] == "confusion"]
    assert confused["class"].tolist() == ["a"]  # a pixel's class is its true class


def test_ceiling_is_the_mean_iou_after_fixing_that_type():
    prediction, truth = _scene()
    errors = segmentation_errors(prediction, truth, CLASSES, 0, 255, ErrorTypeParams())
    fixed = prediction.copy()
    fixed[0, 12:16, 12:16] = 2
    expected = split_mean_iou(fixed, truth, 3, 255) - split_mean_iou(prediction, truth, 3, 255)
    assert errors.ceilings["missed"] == pytest.approx(expected)
    assert set(errors.ceilings) == set(ERROR_TYPES)
    assert all(gain >= 0 for gain in errors.ceilings.values())


def test_a_partly_found_object_is_missed_only_below_the_iou_threshold():
    truth = np.zeros((1, 10, 10), np.uint8)
    truth[0, 0:10, 0:4] = 1
    prediction = truth.copy()
    prediction[0, 0:10, 0:2] = 0  # IoU 0.5
    loose = segmentation_errors(prediction, truth, CLASSES[:2], 0, 255, ErrorTypeParams())
    strict = segmentation_errors(
        prediction, truth, CLASSES[:2], 0, 255, ErrorTypeParams(object_iou=0.6)
    )
    assert "missed" not in set(loose.counts["type"])
    assert set(strict.counts["type"]) == {"missed"}


def test_boundary_band_has_the_width_asked():
    truth = np.zeros((9, 9), np.uint8)
    truth[:, 5:] = 1
    assert boundary_band(truth, 1)[0].nonzero()[0].tolist() == [4, 5]
    assert boundary_band(truth, 2)[0].nonzero()[0].tolist() == [3, 4, 5, 6]
    assert not boundary_band(truth, 0).any()


def test_ignored_pixels_get_no_type():
    prediction, truth = _scene()
    truth[0, 12:16, 12:16] = 255
    errors = segmentation_errors(prediction, truth, CLASSES, 0, 255, ErrorTypeParams())
    assert "missed" not in set(errors.counts["type"])
