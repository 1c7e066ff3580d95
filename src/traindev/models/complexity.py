"""What a model costs: FLOPs per example, counted by torch's own flop counter."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@torch.no_grad()
def flops_per_example(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """Forward FLOPs for one example at the data's (C, H, W) (a multiply-add counts 2).

    Counted in eval mode on a CPU copy-free forward of batch 2, halved, so batch-norm in
    training mode (which rejects batch 1) never matters.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(2, *input_shape, device=device))
    model.train(was_training)
    return counter.get_total_flops() // 2
