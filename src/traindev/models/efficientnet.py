"""EfficientNet B0-B7 (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for CNNs").

The notes (course 4, week 2, "EfficientNet") present compound scaling: grow resolution r, depth
d and width w together instead of one at a time. The baseline B0 is a stack of MBConv blocks
(MobileNet v2's inverted residual with a squeeze-and-excitation gate and swish / SiLU), and
B1..B7 multiply its widths and depths by the per-variant coefficients in ``SCALING``:

* widths: ``make_divisible(c * width, 8)`` (stem 32, every stage, head 1280);
* depths: each stage repeats ``ceil(depth * n)`` blocks;
* squeeze-and-excitation squeezes to a quarter of the block's *input* channels;
* stochastic depth on the residual blocks, its drop rate growing linearly with the block index
  up to ``stochastic_depth`` (the reference code's 0.2); dropout before the classifier is the
  variant's own rate unless ``dropout`` is set.

At 1000 classes this gives the reference implementation's parameter counts (B0 5,288,548 ...
B7 66,347,960). Resolution is the third coefficient; the registry's adapter resizes the data.

Small-input adaptation (``small_input=True``, native 32x32, as in the common CIFAR
EfficientNets): the stem conv has stride 1 and the first stride-2 stage (stage 2, 24 channels)
runs at stride 1, so 32x32 ends at 4x4 (at 224 the reference ends at 7x7).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from traindev.models.mobilenet import conv_bn_act, init_weights, make_divisible
from traindev.models.params import EfficientNetParams


class Scaling(NamedTuple):
    """Compound-scaling coefficients of one variant."""

    width: float
    depth: float
    resolution: int
    dropout: float


# Tan & Le 2019 / the reference implementation's table (width, depth, resolution, dropout).
SCALING: dict[str, Scaling] = {
    "efficientnet_b0": Scaling(1.0, 1.0, 224, 0.2),
    "efficientnet_b1": Scaling(1.0, 1.1, 240, 0.2),
    "efficientnet_b2": Scaling(1.1, 1.2, 260, 0.3),
    "efficientnet_b3": Scaling(1.2, 1.4, 300, 0.3),
    "efficientnet_b4": Scaling(1.4, 1.8, 380, 0.4),
    "efficientnet_b5": Scaling(1.6, 2.2, 456, 0.4),
    "efficientnet_b6": Scaling(1.8, 2.6, 528, 0.5),
    "efficientnet_b7": Scaling(2.0, 3.1, 600, 0.5),
}


class Stage(NamedTuple):
    """One row of B0's table 1: MBConv expansion, kernel, first stride, channels, repeats."""

    expansion: int
    kernel: int
    stride: int
    out_channels: int
    repeats: int


# Tan & Le 2019, table 1 (EfficientNet-B0 baseline network), stages 2-8.
B0_STAGES: tuple[Stage, ...] = (
    Stage(1, 3, 1, 16, 1),
    Stage(6, 3, 2, 24, 2),
    Stage(6, 5, 2, 40, 2),
    Stage(6, 3, 2, 80, 3),
    Stage(6, 5, 1, 112, 3),
    Stage(6, 5, 2, 192, 4),
    Stage(6, 3, 1, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3  # the reference (TensorFlow) batch-norm epsilon
# Small input: which B0_STAGES rows run at stride 1 (the first stride-2 stage).
SMALL_INPUT_STRIDE1 = frozenset({1})


def stage_repeats(depth: float) -> list[int]:
    """Blocks per stage after depth scaling: ceil(depth * n)."""
    return [math.ceil(depth * stage.repeats) for stage in B0_STAGES]


class StochasticDepth(nn.Module):
    """Drop a residual branch for whole samples at rate p while training (Huang et al. 2016).

    Survivors are scaled by 1/(1-p) so the expected output matches eval mode, where it is the
    identity.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        mask = torch.empty((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device)
        return x * mask.bernoulli_(survival) / survival

    def extra_repr(self) -> str:
        return f"p={self.p}"


class SqueezeExcitation(nn.Module):
    """Channel gate: global average pool -> 1x1 reduce -> SiLU -> 1x1 expand -> sigmoid."""

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze_channels, 1)
        self.expand = nn.Conv2d(squeeze_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = torch.sigmoid(self.expand(F.silu(self.reduce(scale))))
        return x * scale


class MBConv(nn.Module):
    """Inverted residual (MobileNet v2) + squeeze-and-excitation, with SiLU activations."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int,
        expansion: int,
        drop_rate: float,
    ) -> None:
        super().__init__()
        hidden = in_channels * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(conv_bn_act(in_channels, hidden, 1, activation=nn.SiLU, bn_eps=BN_EPS))
        layers += [
            conv_bn_act(
                hidden, hidden, kernel, stride, groups=hidden, activation=nn.SiLU, bn_eps=BN_EPS
            ),
            SqueezeExcitation(hidden, max(1, in_channels // 4)),
            conv_bn_act(hidden, out_channels, 1, activation=None, bn_eps=BN_EPS),  # linear
        ]
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.stochastic_depth = StochasticDepth(drop_rate if self.use_residual else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + self.stochastic_depth(out) if self.use_residual else out


def efficientnet_features(
    in_channels: int, scaling: Scaling, stochastic_depth: float, small_input: bool
) -> tuple[nn.Sequential, list[int], int]:
    """Stem + scaled MBConv stages + 1x1 head conv.

    Returns (features, blocks per stage, output channels).
    """
    channels = make_divisible(STEM_CHANNELS * scaling.width)
    stem_stride = 1 if small_input else 2
    layers: list[nn.Module] = [
        conv_bn_act(in_channels, channels, 3, stem_stride, activation=nn.SiLU, bn_eps=BN_EPS)
    ]
    repeats = stage_repeats(scaling.depth)
    total_blocks, block_index = sum(repeats), 0
    for index, (stage, n) in enumerate(zip(B0_STAGES, repeats, strict=True)):
        stride = 1 if small_input and index in SMALL_INPUT_STRIDE1 else stage.stride
        out_channels = make_divisible(stage.out_channels * scaling.width)
        blocks: list[nn.Module] = []
        for i in range(n):
            drop_rate = stochastic_depth * block_index / total_blocks
            blocks.append(
                MBConv(
                    channels,
                    out_channels,
                    stage.kernel,
                    stride if i == 0 else 1,
                    stage.expansion,
                    drop_rate,
                )
            )
            channels, block_index = out_channels, block_index + 1
        layers.append(nn.Sequential(*blocks))
    head = make_divisible(HEAD_CHANNELS * scaling.width)
    layers.append(conv_bn_act(channels, head, 1, activation=nn.SiLU, bn_eps=BN_EPS))
    return nn.Sequential(*layers), repeats, head


class EfficientNet(nn.Module):
    """features -> global average pool -> dropout -> FC (logits)."""

    def __init__(
        self, params: EfficientNetParams, in_channels: int, num_classes: int, variant: str
    ) -> None:
        super().__init__()
        self.scaling = SCALING[variant]
        self.features, self.stage_repeats, channels = efficientnet_features(
            in_channels, self.scaling, params.stochastic_depth, params.small_input
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        dropout = self.scaling.dropout if params.dropout is None else params.dropout
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.avgpool(self.features(x)).flatten(1)))


def build_efficientnet(
    params: EfficientNetParams,
    input_shape: tuple[int, int, int],
    num_classes: int,
    variant: str,
) -> EfficientNet:
    """Registry builder for efficientnet_b0..b7; C from the data, H, W by the adapter."""
    if variant not in SCALING:
        raise ValueError(f"unknown EfficientNet variant {variant!r}; valid: {sorted(SCALING)}")
    return EfficientNet(params, input_shape[0], num_classes, variant)
