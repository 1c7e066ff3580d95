"""The pieces every detector here shares: darknet's conv block and the raw YOLO layout."""

from __future__ import annotations

import torch
from torch import nn


def conv_bn_leaky(
    in_channels: int, out_channels: int, kernel: int, leaky_slope: float = 0.1
) -> nn.Sequential:
    """darknet's `[convolutional] batch_normalize=1 pad=1 activation=leaky`: a 'same'
    convolution without bias (BN's beta replaces it), batch norm, leaky ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(leaky_slope, inplace=True),
    )


def to_raw_layout(prediction: torch.Tensor, num_anchors: int) -> torch.Tensor:
    """(N, B * (5 + C), S, S) from a 1x1 prediction conv -> (N, S, S, B, 5 + C).

    Channel block b holds anchor b's (p_c, t_x, t_y, t_h, t_w, class logits): the order is a
    convention of the trained weights, the one det_contract.md fixes for targets and decode.
    """
    n, channels, rows, cols = prediction.shape
    per_anchor = channels // num_anchors
    return prediction.view(n, num_anchors, per_anchor, rows, cols).permute(0, 3, 4, 1, 2)


def prediction_conv(in_channels: int, num_anchors: int, num_classes: int) -> nn.Conv2d:
    """The linear 1x1 convolution that predicts B * (5 + C) values per cell (with bias)."""
    return nn.Conv2d(in_channels, num_anchors * (5 + num_classes), kernel_size=1)
