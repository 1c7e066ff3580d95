"""Split metrics equal torchmetrics' functions; the per-image error is 1 - the image's mean IoU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_f1_score,
    multiclass_jaccard_index,
)

from traindev.tasks.segmentation.metrics import image_errors, segmentation_metrics

CLASSES = ["background", "a", "b", "c"]


@pytest.fixture
def masks() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, (70, 9, 11)).astype(np.uint8)  # class c absent everywhere
    predictions = np.where(rng.random(truth.shape) < 0.7, truth, rng.integers(0, 3, truth.shape))
    truth[0, :2] = 255  # unlabelled pixels
    return predictions.astype(np.uint8), truth


def test_split_metrics_equal_torchmetrics(masks):
    predictions, truth = masks
    metrics = segmentation_metrics(predictions, truth, CLASSES, ignore_index=255)
    p, t = torch.as_tensor(predictions).long(), torch.as_tensor(truth).long()
    options = {"num_classes": 4, "ignore_index": 255, "average": "none"}
    iou = multiclass_jaccard_index(p, t, **options).numpy()
    dice = multiclass_f1_score(p, t, **options).numpy()
    np.testing.assert_allclose(metrics.class_iou[:3], iou[:3], rtol=1e-6)
    np.testing.assert_allclose(metrics.class_dice[:3], dice[:3], rtol=1e-6)
    assert np.isnan(metrics.class_iou[3])  # absent from truth and prediction: no IoU
    assert metrics.mean_iou == pytest.approx(iou[:3].mean(), rel=1e-6)
    accuracy = multiclass_accuracy(p, t, num_classes=4, ignore_index=255, average="micro")
    assert metrics.pixel_accuracy == pytest.approx(float(accuracy), rel=1e-6)


def test_image_error_is_one_minus_the_images_mean_iou_over_present_classes(masks):
    predictions, truth = masks
    errors = image_errors(predictions, truth, 4, ignore_index=255)
    for index in range(len(truth)):
        p = torch.as_tensor(predictions[index]).long()
        t = torch.as_tensor(truth[index]).long()
        keep = t != 255
        present = torch.unique(torch.cat([p[keep], t[keep]]))
        iou = multiclass_jaccard_index(p, t, 4, average="none", ignore_index=255)[present]
        assert errors[index] == pytest.approx(1 - float(iou.mean()), rel=1e-6)


def test_perfect_and_disjoint_masks_score_zero_and_one():
    truth = np.zeros((2, 4, 4), np.uint8)
    truth[:, :2] = 1
    assert image_errors(truth, truth, 2, None).tolist() == [0.0, 0.0]
    assert image_errors(1 - truth, truth, 2, None).tolist() == [1.0, 1.0]


def test_ignored_pixels_change_no_metric(masks):
    predictions, truth = masks
    flipped = predictions.copy()
    flipped[0, :2] = (flipped[0, :2] + 1) % 3
    before = segmentation_metrics(predictions, truth, CLASSES, 255)
    after = segmentation_metrics(flipped, truth, CLASSES, 255)
    assert before.as_dict() == after.as_dict()
    np.testing.assert_array_equal(before.image_error, after.image_error)
