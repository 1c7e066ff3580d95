"""Segmentation loss: pixel-wise cross-entropy plus an optional soft Dice term.

Cross-entropy alone under-weights small objects (a digit covers a few percent of a canvas);
a Dice term scores each class by its overlap, whatever its size (Milletari et al. 2016).
Pixels at `ignore_index` count in neither term.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from traindev.tasks.segmentation.params import SegmentationLossParams


def soft_dice_loss(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int | None, smooth: float = 1.0
) -> torch.Tensor:
    """1 - mean over classes of (2 |P T| + s) / (|P| + |T| + s), softmax probabilities P."""
    num_classes = logits.shape[1]
    probabilities = logits.softmax(1)
    keep = torch.ones_like(target, dtype=torch.bool)
    if ignore_index is not None:
        keep = target != ignore_index
    safe = torch.where(keep, target, torch.zeros_like(target))
    truth = F.one_hot(safe, num_classes).permute(0, 3, 1, 2).to(probabilities.dtype)
    weight = keep.unsqueeze(1).to(probabilities.dtype)
    probabilities, truth = probabilities * weight, truth * weight
    dims = (0, 2, 3)
    overlap = (probabilities * truth).sum(dims)
    total = probabilities.sum(dims) + truth.sum(dims)
    return 1.0 - ((2.0 * overlap + smooth) / (total + smooth)).mean()


def segmentation_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    params: SegmentationLossParams,
    ignore_index: int | None,
) -> torch.Tensor:
    """Weighted cross-entropy + Dice on logits (N, C, H, W) and index target (N, H, W)."""
    target = target.long()
    loss = logits.new_zeros(())
    if params.cross_entropy_weight:
        loss = loss + params.cross_entropy_weight * F.cross_entropy(
            logits, target, ignore_index=-100 if ignore_index is None else ignore_index
        )
    if params.dice_weight:
        loss = loss + params.dice_weight * soft_dice_loss(
            logits, target, ignore_index, params.dice_smooth
        )
    return loss
