"""The detection losses on cases worked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from traindev.tasks.detection.encoding import encode, raw_from_target
from traindev.tasks.detection.losses import localization_loss, yolo_loss, yolo_loss_terms

LN3 = math.log(3)


def localization_case() -> tuple[torch.Tensor, torch.Tensor]:
    """Two images, two classes: one with an object of class 2, one empty."""
    target = torch.tensor(
        [
            [1.0, 0.5, 0.5, 0.2, 0.4, 0.0, 1.0],
            [0.0, 0.9, 0.9, 0.9, 0.9, 0.0, 0.0],  # "don't care" after p_c = 0
        ]
    )
    raw = torch.tensor(
        [
            [0.0, 0.6, 0.4, 0.2, 0.1, 0.0, 0.0],
            [LN3, 50.0, -50.0, 50.0, 50.0, 40.0, -40.0],  # ignored but p_c
        ]
    )
    return raw, target


def test_the_notes_localization_loss_is_squared_error_on_all_outputs_or_on_p_c_alone():
    raw, target = localization_case()
    # image 1: p_c^ = sigmoid(0) = 0.5 -> (0.5 - 1)^2 = 0.25;
    #   box (0.6-0.5)^2 + (0.4-0.5)^2 + (0.2-0.2)^2 + (0.1-0.4)^2 = 0.01 + 0.01 + 0 + 0.09 = 0.11;
    #   classes softmax(0, 0) = (0.5, 0.5) -> (0.5-0)^2 + (0.5-1)^2 = 0.5;  total 0.86
    # image 2: p_c^ = sigmoid(ln 3) = 0.75 -> 0.75^2 = 0.5625, nothing else
    # mean over the two images: (0.86 + 0.5625) / 2 = 0.71125
    assert localization_loss(raw, target, "notes").item() == pytest.approx(0.71125, abs=1e-6)


def test_the_common_practice_loss_is_logistic_for_p_c_and_cross_entropy_for_classes():
    raw, target = localization_case()
    # image 1: -log sigmoid(0) = ln 2; box 0.11; cross-entropy of (0, 0) for class 2 = ln 2
    # image 2: -log(1 - sigmoid(ln 3)) = -log 0.25 = ln 4 = 2 ln 2
    # mean: (0.11 + 2 ln 2 + 2 ln 2) / 2 = 0.055 + 2 ln 2
    expected = 0.055 + 2 * math.log(2)
    assert localization_loss(raw, target, "common").item() == pytest.approx(expected, abs=1e-6)


def test_localization_loss_rejects_an_unknown_variant():
    raw, target = localization_case()
    with pytest.raises(ValueError, match="unknown localization loss variant 'l1'"):
        localization_loss(raw, target, "l1")  # type: ignore[arg-type]


def yolo_case() -> tuple[torch.Tensor, torch.Tensor]:
    """Two images on a 2 x 2 grid, one anchor of one cell, two classes."""
    target = torch.zeros(2, 2, 2, 1, 7)
    target[0, 0, 0, 0] = torch.tensor([1.0, 0.5, 0.25, 4.0, 1.0, 1.0, 0.0])
    raw = torch.zeros(2, 2, 2, 1, 7)
    raw[0, 0, 1, 0] = torch.tensor([LN3, 9.0, -9.0, 3.0, 3.0, 7.0, 0.0])  # empty: p_c^ 0.75
    raw[0, 1, 0, 0, 0] = 0.0  # empty: p_c^ 0.5
    raw[0, 1, 1, 0, 0] = -LN3  # empty: p_c^ 0.25
    return raw, target  # image 2: empty everywhere, every p_c^ = 0.5


def test_yolo_loss_terms_on_a_hand_worked_case():
    raw, target = yolo_case()
    terms = yolo_loss_terms(raw, target, None, lambda_coord=5.0, lambda_noobj=0.5)
    # the object's slot: raw all 0 -> x^ = y^ = 0.5, h^ = w^ = exp(0) = 1, p_c^ = 0.5, classes 0.5
    # coord: 5 * [(0.5-0.5)^2 + (0.5-0.25)^2 + (sqrt 1 - sqrt 4)^2 + (sqrt 1 - sqrt 1)^2]
    #      = 5 * (0.0625 + 1) = 5.3125, over 2 images 2.65625
    # object: (1 - 0.5)^2 = 0.25 -> 0.125;  classes: (0.5-1)^2 + (0.5-0)^2 = 0.5 -> 0.25
    # no object: image 1 0.75^2 + 0.5^2 + 0.25^2 = 0.875, image 2 4 * 0.25 = 1;
    #            0.5 * 1.875 / 2 = 0.46875
    expected = {"coord": 2.65625, "object": 0.125, "no_object": 0.46875, "classes": 0.25}
    assert {name: value.item() for name, value in terms.items()} == pytest.approx(expected)
    assert yolo_loss(raw, target, None).item() == pytest.approx(3.5)


def test_yolo_loss_scales_box_sizes_by_the_anchor_and_weighs_terms_by_the_lambdas():
    target = torch.zeros(1, 1, 1, 2, 6)
    target[0, 0, 0, 1] = torch.tensor([1.0, 0.5, 0.5, 2.0, 2.0, 1.0])
    raw = torch.zeros(1, 1, 1, 2, 6)
    anchors = torch.tensor([[1.0, 1.0], [2.0, 0.5]])  # (width, height) in cells
    terms = yolo_loss_terms(raw, target, anchors, lambda_coord=1.0, lambda_noobj=2.0)
    # anchor 2 with t = 0: h^ = 0.5, w^ = 2 -> (sqrt 0.5 - sqrt 2)^2 + 0 = 0.5
    assert terms["coord"].item() == pytest.approx(0.5)
    # the empty anchor 1: p_c^ = 0.5 -> 2 * 0.25
    assert terms["no_object"].item() == pytest.approx(0.5)
    assert terms["classes"].item() == 0  # one class: softmax is 1 whatever the logit


def test_yolo_loss_vanishes_on_the_perfect_prediction_and_has_gradients_elsewhere():
    anchors = torch.tensor([[0.5, 1.5], [1.5, 0.5]])
    boxes = torch.tensor([[4.0, 2.0, 12.0, 30.0], [30.0, 40.0, 60.0, 50.0]])
    target = encode(boxes, torch.tensor([0, 2]), 64, 4, anchors, 3)[None]
    perfect = raw_from_target(target, anchors)
    assert yolo_loss(perfect, target, anchors).item() == pytest.approx(0, abs=1e-6)
    raw = torch.zeros_like(target, requires_grad=True)
    yolo_loss(raw, target, anchors).backward()
    assert torch.isfinite(raw.grad).all() and raw.grad.abs().sum() > 0


def test_losses_compute_in_float32_when_the_head_runs_in_bfloat16():
    raw, target = yolo_case()
    half = raw.to(torch.bfloat16)
    exact = yolo_loss(half.float(), target, None)
    assert yolo_loss(half, target, None).dtype == torch.float32
    assert yolo_loss(half, target, None).item() == pytest.approx(exact.item(), rel=1e-6)
    raw, target = localization_case()
    half, half_target = raw.to(torch.bfloat16), target.to(torch.bfloat16)
    for variant in ("notes", "common"):
        loss = localization_loss(half, half_target, variant)
        assert loss.dtype == torch.float32
        exact = localization_loss(half.float(), half_target.float(), variant)
        assert loss.item() == pytest.approx(exact.item(), rel=1e-6)
