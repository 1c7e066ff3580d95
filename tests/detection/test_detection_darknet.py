"""Darknet-19 and YOLOv2 as darknet's yolov2.cfg builds them."""

from __future__ import annotations

import pytest
import torch

from traindev.models.registry import count_parameters
from traindev.tasks.detection.models.registry import build_detector

# YOLOv2 at 608x608x3, 5 anchors, 80 COCO classes.
REFERENCE_TRAINABLE = 50_962_889
REFERENCE_WITH_BN_STATISTICS = 50_983_561


def test_yolov2_at_the_reference_configuration_has_the_published_parameter_count() -> None:
    """The published count of YOLOv2 (608x608, 5 anchors, 80 classes), built on the meta device.

    Source: the model summary of YAD2K (github.com/allanzelener/YAD2K, README, converting
    pjreddie's cfg/yolov2.cfg and yolov2.weights to Keras), reproduced in the deeplearning.ai
    course's "Car detection with YOLO" assignment: "Total params: 50,983,561, Trainable params:
    50,962,889, Non-trainable params: 20,672"; YAD2K's converter also prints "Read 50983561 of
    50983561.0 from Darknet weights", the count of darknet's own weight file. Keras counts the
    batch-norm moving mean and variance as non-trainable parameters; torch keeps them as buffers.
    """
    with torch.device("meta"):
        model = build_detector("yolov2", {}, (3, 608, 608), 80, grid=19, num_anchors=5)
        raw = model(torch.zeros(2, 3, 608, 608))
    statistics = sum(
        buffer.numel()
        for name, buffer in model.named_buffers()
        if name.endswith(("running_mean", "running_var"))
    )
    assert count_parameters(model) == REFERENCE_TRAINABLE
    assert count_parameters(model) + statistics == REFERENCE_WITH_BN_STATISTICS
    assert raw.shape == (2, 19, 19, 5, 85)


def test_the_passthrough_layer_adds_the_reorganized_fine_features() -> None:
    """Without it the merge conv reads 1024 channels instead of 1024 + 4 x 64 and the 1x1x64
    reduction (64 x 512 weights + BN) disappears."""
    with torch.device("meta"):
        full = build_detector("yolov2", {}, (3, 416, 416), 20, grid=13, num_anchors=5)
        ablated = build_detector(
            "yolov2", {"passthrough": False}, (3, 416, 416), 20, grid=13, num_anchors=5
        )
    merge_difference = 256 * 1024 * 3 * 3
    reduction = 512 * 64 + 2 * 64
    assert count_parameters(full) - count_parameters(ablated) == merge_difference + reduction


def test_the_passthrough_branch_runs_in_the_forward_pass() -> None:
    calls: list[tuple[int, ...]] = []
    with torch.device("meta"):
        model = build_detector("yolov2", {}, (3, 416, 416), 20, grid=13, num_anchors=5)
        model.passthrough.register_forward_hook(lambda m, args, out: calls.append(out.shape))
        model(torch.zeros(2, 3, 416, 416))
    assert calls == [(2, 64, 26, 26)]


@pytest.mark.parametrize(
    ("shape", "grid", "message"),
    [((3, 600, 600), 19, "multiple of 32"), ((3, 416, 416), 19, "13x13 grid")],
)
def test_yolov2_refuses_an_input_that_does_not_give_the_grid(shape, grid, message) -> None:
    with torch.device("meta"), pytest.raises(ValueError, match=message):
        build_detector("yolov2", {}, shape, 80, grid=grid, num_anchors=5)
