"""LeNet-5 as the notes draw it (course 4, week 2; LeCun et al., 1998).

32x32xC -> CONV 5x5/6 (28x28x6) -> POOL 2/2 (14x14x6) -> CONV 5x5/16 (10x10x16) -> POOL 2/2
(5x5x16 = 400) -> FC 120 -> FC 84 -> FC num_classes. C3 is fully connected to all 6 maps (the
paper's sparse connection table is not used), which gives the commonly published 61,706
parameters at 1 channel and 10 classes.
"""

from __future__ import annotations

import torch
from torch import nn

from traindev.models.deep_network import make_activation
from traindev.models.params import LeNet5Params

NATIVE_INPUT: tuple[int, int] = (32, 32)


def _pool(kind: str) -> nn.Module:
    # The paper's subsampling is an average; max pooling is the modern variant the notes mention.
    return nn.AvgPool2d(2, stride=2) if kind == "avg" else nn.MaxPool2d(2, stride=2)


class LeNet5(nn.Module):
    """LeNet-5 on NCHW input at 32x32; returns logits (softmax is in the loss).

    ``in_channels`` is the data's channel count: the notes draw 1 (grayscale), and a colour data
    set just widens the first conv's filters to 5x5xC, as in the notes' conv-over-volume rule.
    Dropout (when > 0) sits before each FC layer.
    """

    def __init__(self, params: LeNet5Params, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5),
            make_activation(params.activation),
            _pool(params.pooling),
            nn.Conv2d(6, 16, kernel_size=5),
            make_activation(params.activation),
            _pool(params.pooling),
        )
        widths = [16 * 5 * 5, 120, 84, num_classes]
        layers: list[nn.Module] = []
        for i in range(len(widths) - 1):
            if params.dropout > 0:
                layers.append(nn.Dropout(params.dropout))
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            if i < len(widths) - 2:  # no activation on the logits
                layers.append(make_activation(params.activation))
        self.classifier = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def build_lenet5(
    params: LeNet5Params, input_shape: tuple[int, int, int], num_classes: int
) -> LeNet5:
    """Registry builder: takes C from the data; H, W are handled by the registry's adapter."""
    return LeNet5(params, input_shape[0], num_classes)
