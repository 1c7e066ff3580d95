"""Sliding windows: the convolutional implementation scores the same windows as cropping them
one by one, with the FC layers turned into convolutions as the notes draw them."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from traindev.tasks.detection.models.params import SlidingWindowParams
from traindev.tasks.detection.models.registry import build_detector
from traindev.tasks.detection.models.sliding_windows import (
    SlidingWindowDetector,
    WindowClassifier,
    decode_windows,
    scan_convolutional,
    scan_naive,
)

CONFIGS = {
    "the notes' 14x14 net": {},
    "stride twice the net's": {"stride": 4},
    "two conv blocks, one FC": {
        "crop_size": 15,
        "conv_filters": [8, 16],
        "kernel_size": 3,
        "fc_sizes": [32],
        "stride": 8,
    },
}


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
@pytest.mark.parametrize("size", [(28, 28), (33, 41)])
def test_the_convolutional_scan_gives_the_naive_scores(config: dict, size: tuple) -> None:
    torch.manual_seed(0)
    params = SlidingWindowParams(**config)
    classifier = WindowClassifier(3, params, num_classes=4).eval()
    images = torch.rand(2, 3, *size)
    with torch.no_grad():
        naive = scan_naive(classifier, images, params.stride)
        convolutional = scan_convolutional(classifier, images, params.stride)
    rows = (size[0] - params.crop_size) // params.stride + 1
    cols = (size[1] - params.crop_size) // params.stride + 1
    assert naive.shape == convolutional.shape == (2, rows, cols, 5)
    torch.testing.assert_close(convolutional, naive, rtol=1e-5, atol=1e-5)
    # and the naive scan is what classifying each crop gives
    crop = images[:, :, params.stride : params.stride + params.crop_size, : params.crop_size]
    torch.testing.assert_close(naive[:, 1, 0], classifier(crop), rtol=1e-5, atol=1e-5)


def test_the_notes_example_16x16_gives_2x2_windows_and_28x28_gives_8x8() -> None:
    """14x14x3 -> CONV 5x5 16 -> POOL 2 -> FC 400 -> FC 400 -> softmax 4, convolutionally:
    a 16x16x3 image gives 2x2x4 and a 28x28x3 image 8x8x4 (stride 2)."""
    classifier = WindowClassifier(3, SlidingWindowParams(), num_classes=3)
    assert classifier.forward_convolutional(torch.rand(1, 3, 16, 16)).shape == (1, 4, 2, 2)
    assert classifier.forward_convolutional(torch.rand(1, 3, 28, 28)).shape == (1, 4, 8, 8)
    kernels = classifier.fc_as_convolutions()
    assert [tuple(weight.shape) for weight, _ in kernels] == [
        (400, 16, 5, 5),
        (400, 400, 1, 1),
        (4, 400, 1, 1),
    ]
    linear = [layer for layer in classifier.classifier if isinstance(layer, torch.nn.Linear)]
    for (weight, bias), layer in zip(kernels, linear, strict=True):  # the FC weights, reshaped
        assert weight.data_ptr() == layer.weight.data_ptr() and bias is layer.bias


def test_the_scan_follows_the_classifier_as_it_trains() -> None:
    classifier = WindowClassifier(1, SlidingWindowParams(), num_classes=2)
    images = torch.rand(1, 1, 14, 14)
    with torch.no_grad():
        classifier.classifier[0].weight.add_(1.0)
    torch.testing.assert_close(
        classifier.forward_convolutional(images).flatten(1), classifier(images)
    )


def test_the_detector_exports_with_a_dynamic_batch() -> None:
    """The MLflow model is saved with torch.export: the scan must trace."""
    detector = build_detector("sliding_windows", {"window_sizes": [16]}, (1, 32, 32), 3).eval()
    batch = torch.export.Dim("batch")
    program = torch.export.export(
        detector, (torch.rand(2, 1, 32, 32),), dynamic_shapes=({0: batch},)
    )
    images = torch.rand(3, 1, 32, 32)
    _, logits = program.module()(images)
    torch.testing.assert_close(logits, detector(images)[1])


def test_the_detector_gives_the_same_boxes_and_scores_in_both_implementations() -> None:
    torch.manual_seed(0)
    detector = build_detector("sliding_windows", {"window_sizes": [16, 28]}, (1, 64, 64), 10)
    images = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        boxes, logits = detector.eval()(images)
        detector.implementation = "naive"
        naive_boxes, naive_logits = detector(images)
    assert torch.equal(boxes, naive_boxes)
    torch.testing.assert_close(logits, naive_logits, rtol=1e-5, atol=1e-5)
    assert logits.shape == (2, len(boxes), 11)


def test_window_boxes_are_the_windows_in_image_pixels() -> None:
    """A 16-pixel window on a 64x64 image: the image is scaled by 14/16 to 56x56, scanned at
    stride 2 there, so windows start every 2 x 16/14 image pixels, 22 per row."""
    detector = SlidingWindowDetector(
        WindowClassifier(1, SlidingWindowParams(), 2), SlidingWindowParams(window_sizes=[16])
    )
    boxes = detector.window_boxes(64, 64)
    step = 2 * 16 / 14
    assert len(boxes) == 22 * 22
    torch.testing.assert_close(boxes[1], torch.tensor([step, 0.0, step + 16, 16.0]))
    torch.testing.assert_close(boxes[:, 2:] - boxes[:, :2], torch.full((len(boxes), 2), 16.0))
    assert boxes.max() <= 64 + 1e-4


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"stride": 3}, "multiple of the classifier's own stride 2"),
        ({"crop_size": 5}, "too small"),
        ({"fc_sizes": [0]}, "must be positive"),
    ],
)
def test_inconsistent_window_params_are_refused(config: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SlidingWindowParams(**config)


def test_window_decoding_thresholds_p_c_and_suppresses_overlaps_per_class() -> None:
    """p_c = 1 - P(background): the background window goes, of two overlapping windows of one
    class the better stays, and a window of another class overlapping them stays too."""
    boxes = torch.tensor(
        [[0.0, 0.0, 16, 16], [2.0, 0.0, 18, 16], [1.0, 0.0, 17, 16], [40.0, 40, 56, 56]]
    )
    big = 8.0
    logits = torch.tensor(
        [
            [[big, 0, 0, 0], [big - 1, 0, 0, 0], [0, 0, big, 0], [0, 0, 0, big]],
        ]
    )  # 3 classes + background
    (detections,) = decode_windows(boxes, logits, score_threshold=0.6, iou_threshold=0.5)
    assert detections.classes.tolist() == [0, 2] or detections.classes.tolist() == [2, 0]
    kept = {tuple(box) for box in detections.boxes.tolist()}
    assert kept == {(0.0, 0.0, 16.0, 16.0), (1.0, 0.0, 17.0, 16.0)}
    assert (detections.scores > 0.99).all()
