"""MobileNet v1 (Howard et al. 2017) and v2 (Sandler et al. 2018).

The notes (course 4, week 2, "MobileNets") build both from the depthwise separable convolution:
a depthwise f x f conv (one filter per channel, ``groups == in_channels``) followed by a
pointwise 1x1 conv, which costs ``1/n_c' + 1/f^2`` of a normal conv (see ``conv_cost``).

* v1: a 3x3/2 conv to 32 channels, then the paper's 13 depthwise separable blocks (table 1),
  each depthwise and pointwise conv followed by BN + ReLU, global average pool, FC. At width
  1.0 and 224x224 this has 4,231,976 trainable parameters (the Keras reference figure: convs
  without bias, BN gamma/beta, FC with bias).
* v2: inverted residual blocks (table 2's t, c, n, s rows): 1x1 expansion by t, 3x3 depthwise,
  1x1 projection with no activation after it (the linear bottleneck), ReLU6 elsewhere, and a
  residual connection only where stride is 1 and the block keeps its channel count; then a
  1x1 conv to 1280 channels. 3,504,872 parameters at width 1.0 and 224x224.

``width_multiplier`` (the papers' alpha) thins every layer: v1 uses ``int(alpha * c)`` as in
the paper and Keras, v2 rounds to a multiple of 8 (``make_divisible``) and never thins the last
1280-channel conv.

Small-input adaptation (``small_input=True``, native 32x32, as in the common CIFAR MobileNets):
the stem conv has stride 1 instead of 2. v1 keeps its four stride-2 blocks, so 32x32 ends at
2x2x1024; v2 also runs its first stride-2 stage (24 channels) at stride 1, so 32x32 ends at
4x4x1280 (the deeper, wider v2 head keeps more positions, at about 100M multiply-adds).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from traindev.models.params import MobileNetParams

# Howard et al. 2017, table 1: (pointwise output channels, depthwise stride) per block.
V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),  # the paper's table prints s2 here, but the map stays 7x7 (a known typo)
)
# Sandler et al. 2018, table 2: (expansion t, output channels c, repeats n, first stride s).
V2_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
V2_LAST_CHANNELS = 1280
# Small input: which V2_STAGES rows run at stride 1 (the first stride-2 stage).
V2_SMALL_INPUT_STRIDE1 = frozenset({1})


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of ``divisor`` without losing over 10%.

    The rule of the reference MobileNet v2 / EfficientNet code (hardware-friendly widths).
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def conv_bn_act(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    groups: int = 1,
    activation: Callable[[], nn.Module] | None = nn.ReLU,
    bn_eps: float = 1e-5,
) -> nn.Sequential:
    """'Same' conv without bias (BN's beta replaces it) + BN + optional activation."""
    layers: list[nn.Module] = [
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=(kernel_size - 1) // 2,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels, eps=bn_eps),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


def is_meta(model: nn.Module) -> bool:
    """Whether the model was built on the meta device (e.g. to count a reference-size model)."""
    return any(p.is_meta for p in model.parameters())


def init_weights(model: nn.Module) -> None:
    """He init (fan_out) for convs, identity BN, small normal FC: the reference codes' choice.

    Skipped on the meta device (shape-only models have no values to initialize).
    """
    if is_meta(model):
        return
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
            nn.init.zeros_(module.bias)


class DepthwiseSeparable(nn.Sequential):
    """MobileNet v1 block: depthwise 3x3 (stride s) + BN + ReLU, pointwise 1x1 + BN + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(
            conv_bn_act(in_channels, in_channels, 3, stride=stride, groups=in_channels),
            conv_bn_act(in_channels, out_channels, 1),
        )


class InvertedResidual(nn.Module):
    """MobileNet v2 block: expand (1x1, ReLU6) -> depthwise 3x3 (ReLU6) -> project (1x1, linear).

    The residual is added only when the block keeps both the size (stride 1) and the channels.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(conv_bn_act(in_channels, hidden, 1, activation=nn.ReLU6))
        layers += [
            conv_bn_act(hidden, hidden, 3, stride=stride, groups=hidden, activation=nn.ReLU6),
            conv_bn_act(hidden, out_channels, 1, activation=None),  # the linear bottleneck
        ]
        self.block = nn.Sequential(*layers)
        self.stride = stride
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out


class MobileNet(nn.Module):
    """features -> global average pool -> dropout -> FC (logits)."""

    def __init__(
        self, features: nn.Sequential, channels: int, dropout: float, classes: int
    ) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.avgpool(self.features(x)).flatten(1)))


def mobilenet_v1_features(
    in_channels: int, alpha: float, small_input: bool
) -> tuple[nn.Sequential, int]:
    """Stem + the 13 depthwise separable blocks; returns (features, output channels)."""

    def width(channels: int) -> int:
        return max(1, int(channels * alpha))

    channels = width(STEM_CHANNELS)
    layers: list[nn.Module] = [
        conv_bn_act(in_channels, channels, 3, stride=1 if small_input else 2)
    ]
    for out_channels, stride in V1_BLOCKS:
        layers.append(DepthwiseSeparable(channels, width(out_channels), stride))
        channels = width(out_channels)
    return nn.Sequential(*layers), channels


def mobilenet_v2_features(
    in_channels: int, alpha: float, small_input: bool
) -> tuple[nn.Sequential, int]:
    """Stem + the inverted residual stages + the last 1x1 conv; returns (features, channels)."""
    channels = make_divisible(STEM_CHANNELS * alpha)
    stem_stride = 1 if small_input else 2
    layers: list[nn.Module] = [
        conv_bn_act(in_channels, channels, 3, stride=stem_stride, activation=nn.ReLU6)
    ]
    for index, (expansion, out_c, repeats, stride) in enumerate(V2_STAGES):
        if small_input and index in V2_SMALL_INPUT_STRIDE1:
            stride = 1
        out_channels = make_divisible(out_c * alpha)
        for i in range(repeats):
            block_stride = stride if i == 0 else 1
            layers.append(InvertedResidual(channels, out_channels, block_stride, expansion))
            channels = out_channels
    last = make_divisible(V2_LAST_CHANNELS * max(1.0, alpha))
    layers.append(conv_bn_act(channels, last, 1, activation=nn.ReLU6))
    return nn.Sequential(*layers), last


FEATURES = {"mobilenet_v1": mobilenet_v1_features, "mobilenet_v2": mobilenet_v2_features}


def build_mobilenet(
    params: MobileNetParams,
    input_shape: tuple[int, int, int],
    num_classes: int,
    variant: str,
) -> MobileNet:
    """Registry builder for mobilenet_v1 / mobilenet_v2; C from the data, H, W by the adapter."""
    if variant not in FEATURES:
        raise ValueError(f"unknown MobileNet variant {variant!r}; valid: {sorted(FEATURES)}")
    features, channels = FEATURES[variant](
        input_shape[0], params.width_multiplier, params.small_input
    )
    return MobileNet(features, channels, params.dropout, num_classes)
