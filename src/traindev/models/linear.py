"""Logistic regression and the shallow network (course 1, weeks 2 and 3).

Both flatten the image to the notes' column vector x of n_x = C * H * W features and return
logits; the softmax is in the loss (``nn.CrossEntropyLoss`` takes logits).

Logistic regression here is the notes' sigmoid unit generalized to softmax regression (course 2,
week 3: "if C = 2, softmax reduces to logistic regression"). Even for 2 classes the model keeps
K = 2 outputs, so that every architecture fits the pipeline's one cross-entropy loss; a 2-way
softmax over (z_1, z_2) is exactly sigmoid(z_1 - z_2), so nothing is lost but one redundant
weight vector.
"""

from __future__ import annotations

import torch
from torch import nn

from traindev.models.deep_network import init_linear, make_activation
from traindev.models.params import (
    LogisticRegressionParams,
    ShallowNetworkParams,
)

SMALL_RANDOM_SCALE = 0.01  # the notes' W1 = np.random.randn(...) * 0.01 (course 1, week 3)


def init_small_random(layer: nn.Linear) -> None:
    """W ~ N(0, 1) * 0.01, b = 0: the notes' shallow-network init (course 1, week 3).

    Small weights keep tanh / sigmoid out of their flat regions, where gradients vanish; random
    (not zero) weights break the symmetry between hidden units, which would otherwise all compute
    the same function and receive the same update forever.
    """
    with torch.no_grad():
        layer.weight.normal_(0.0, 1.0).mul_(SMALL_RANDOM_SCALE)
        if layer.bias is not None:
            layer.bias.zero_()


def _in_features(input_shape: tuple[int, int, int]) -> int:
    channels, height, width = input_shape
    return channels * height * width


class LogisticRegression(nn.Module):
    """z = W x + b on the flattened image: one Linear layer, K logits."""

    def __init__(self, params: LogisticRegressionParams, in_features: int, num_classes: int):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)
        if params.init == "zeros":
            # Zeros are fine here: with no hidden layer there is no symmetry to break (the notes).
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


class ShallowNetwork(nn.Module):
    """LINEAR -> ACT -> LINEAR on the flattened image: the notes' one-hidden-layer network."""

    def __init__(self, params: ShallowNetworkParams, in_features: int, num_classes: int):
        super().__init__()
        self.hidden = nn.Linear(in_features, params.hidden_size)
        self.activation = make_activation(params.activation)
        self.output = nn.Linear(params.hidden_size, num_classes)
        for layer in (self.hidden, self.output):
            if params.init == "small_random":
                init_small_random(layer)
            else:
                init_linear(layer, params.init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # flatten(1): no Python-side shape use, so torch.export keeps the batch dim dynamic.
        return self.output(self.activation(self.hidden(x.flatten(1))))


def build_logistic_regression(
    params: LogisticRegressionParams, input_shape: tuple[int, int, int], num_classes: int
) -> LogisticRegression:
    """Registry builder: n_x = C * H * W of the data, n_x * K + K parameters."""
    return LogisticRegression(params, _in_features(input_shape), num_classes)


def build_shallow_network(
    params: ShallowNetworkParams, input_shape: tuple[int, int, int], num_classes: int
) -> ShallowNetwork:
    """Registry builder: n_x * h + h + h * K + K parameters."""
    return ShallowNetwork(params, _in_features(input_shape), num_classes)
