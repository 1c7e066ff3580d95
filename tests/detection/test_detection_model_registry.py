"""Detectors are named in params like the zoo's architectures and built through one call."""

from __future__ import annotations

import pytest
import torch

from traindev.tasks.detection.models.params import DETECTOR_PARAMS
from traindev.tasks.detection.models.registry import (
    available_detectors,
    build_detector,
    get_detector,
)


def test_every_detector_has_a_schema_whose_defaults_build_at_64x64() -> None:
    assert available_detectors() == sorted(DETECTOR_PARAMS)
    with torch.device("meta"):
        for name in available_detectors():
            model = build_detector(name, {}, (1, 64, 64), 10, grid=2, num_anchors=5)
            out = model(torch.zeros(2, 1, 64, 64))
            if get_detector(name).uses_grid:
                assert out.shape == (2, 2, 2, 5, 15), name
            elif name == "localization":
                assert out.shape == (2, 15)
            else:
                boxes, logits = out
                assert logits.shape == (2, len(boxes), 11)


def test_an_unknown_detector_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid detectors: localization, sliding_windows, yolo"):
        get_detector("ssd")


def test_a_grid_detector_needs_the_grid_and_anchor_count() -> None:
    with pytest.raises(ValueError, match="needs a positive grid and num_anchors"):
        build_detector("yolo", {}, (1, 64, 64), 10)


def test_params_of_another_schema_are_refused() -> None:
    with pytest.raises(TypeError, match="YoloParams"):
        build_detector("yolo", DETECTOR_PARAMS["yolov2"](), (1, 64, 64), 10, grid=2, num_anchors=1)
