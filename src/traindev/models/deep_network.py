"""The notes' deep L-layer network (course 1 week 4; regularization and init from course 2 week 1).

[LINEAR -> (BATCHNORM) -> ACT -> (DROPOUT)] x (L-1) -> LINEAR; the softmax is left to the loss
(``nn.CrossEntropyLoss`` takes logits), so the model returns logits.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from traindev.models.params import Activation, DeepNetworkParams

LEAKY_RELU_SLOPE = 0.01  # the notes' leaky ReLU: max(0.01 z, z)


def make_activation(name: Activation) -> nn.Module:
    """One activation module by its params.yaml name (shared with the conv architectures)."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(LEAKY_RELU_SLOPE)
    if name == "tanh":
        return nn.Tanh()
    if name == "sigmoid":
        return nn.Sigmoid()
    raise ValueError(f"unknown activation {name!r}; valid: relu, leaky_relu, tanh, sigmoid")


def init_linear(layer: nn.Linear, scheme: str) -> None:
    """Initialize one layer as the notes do: W ~ N(0, k / n^[l-1]), b = 0.

    "he": k = 2 (ReLU family); "xavier": k = 1, the notes' variant for tanh, not torch's
    ``xavier_normal_`` (which uses 2 / (fan_in + fan_out)); "default": torch's own init.
    """
    if scheme == "default":
        return
    if scheme == "he":
        nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
    elif scheme == "xavier":
        nn.init.normal_(layer.weight, mean=0.0, std=math.sqrt(1.0 / layer.in_features))
    else:
        raise ValueError(f"unknown init {scheme!r}; valid: he, xavier, default")
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


class DeepNetwork(nn.Module):
    """Fully connected L-layer network on flattened images.

    With batch norm the notes apply it to Z^[l], before the activation. They also note that
    b^[l] becomes redundant (beta^[l] takes its role); we keep the bias anyway so that the
    parameter count is the plain formula plus 2 * n^[l] per batch-norm layer.
    """

    def __init__(self, params: DeepNetworkParams, in_features: int, num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        n_prev = in_features
        for size in params.hidden_sizes:
            layers.append(nn.Linear(n_prev, size))
            if params.batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(make_activation(params.activation))
            if params.dropout > 0:
                layers.append(nn.Dropout(params.dropout))
            n_prev = size
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(n_prev, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                init_linear(module, params.init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # flatten(1), not view(x.size(0), -1): no Python-side shape use, so export stays dynamic.
        return self.output(self.hidden(x.flatten(1)))


def build_deep_network(
    params: DeepNetworkParams, input_shape: tuple[int, int, int], num_classes: int
) -> DeepNetwork:
    """Registry builder: n^[0] = C * H * W of the data (any size; the network flattens it)."""
    channels, height, width = input_shape
    return DeepNetwork(params, channels * height * width, num_classes)
