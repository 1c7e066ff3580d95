"""Cross-entropy with an optional Dice term; ignore_index counts in neither."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from traindev.tasks.segmentation.losses import segmentation_loss, soft_dice_loss
from traindev.tasks.segmentation.params import SegmentationLossParams


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 5, 6, generator=generator)
    target = torch.randint(0, 3, (2, 5, 6), generator=generator)
    target[0, 0] = 255
    return logits, target


def test_plain_cross_entropy_by_default(batch):
    logits, target = batch
    loss = segmentation_loss(logits, target, SegmentationLossParams(), 255)
    assert torch.allclose(loss, F.cross_entropy(logits, target, ignore_index=255))


def test_dice_term_is_weighted_in(batch):
    logits, target = batch
    params = SegmentationLossParams(cross_entropy_weight=0.5, dice_weight=2.0)
    expected = 0.5 * F.cross_entropy(logits, target, ignore_index=255) + 2.0 * soft_dice_loss(
        logits, target, 255
    )
    assert torch.allclose(segmentation_loss(logits, target, params, 255), expected)


def test_ignored_pixels_change_neither_term(batch):
    logits, target = batch
    changed = logits.clone()
    changed[0, :, 0] = torch.tensor([50.0, -50.0, 0.0]).view(3, 1)
    params = SegmentationLossParams(dice_weight=1.0)
    assert torch.allclose(
        segmentation_loss(logits, target, params, 255),
        segmentation_loss(changed, target, params, 255),
    )


def test_dice_of_a_confident_correct_prediction_is_near_zero(batch):
    _, target = batch
    logits = F.one_hot(target.clamp(max=2), 3).permute(0, 3, 1, 2).float() * 50
    assert soft_dice_loss(logits, target, 255) < 1e-3


def test_both_weights_zero_is_refused():
    with pytest.raises(ValueError, match="both be 0"):
        SegmentationLossParams(cross_entropy_weight=0.0)
