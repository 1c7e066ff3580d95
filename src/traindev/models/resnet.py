"""ResNet-18 / 34 / 50 (course 4, week 2 "Case studies"; He et al., 2016, "Deep Residual
Learning for Image Recognition").

The notes' residual block: the main path computes z^[l+2] from a^[l] through two layers, the
shortcut carries a^[l] past them, and the block outputs a^[l+2] = g(z^[l+2] + a^[l]) with
g = ReLU. Each "layer" here is conv -> batch norm (so the convolutions have no bias). Where the
main path changes the shape (stride 2 or a different channel count) a^[l] cannot be added as
is, and the shortcut becomes the paper's projection W_s a^[l]: a 1x1 convolution (with the
block's stride) + batch norm; everywhere else it is the identity.

- ResNet-18 / 34: basic blocks (3x3 -> 3x3), [2, 2, 2, 2] / [3, 4, 6, 3] blocks per stage.
- ResNet-50: bottleneck blocks (1x1 reduce -> 3x3 -> 1x1 expand x4), [3, 4, 6, 3], with the
  stride on the 3x3 convolution (the "ResNet v1.5" placement of the reference implementation).

Stages have 64-128-256-512 (x4 for the bottleneck outputs) channels, stages 2-4 halve H and W.

Reference configuration (``small_input=False``, 224x224xC): stem CONV 7x7/2, 64 (no bias) + BN
+ ReLU + MAXPOOL 3x3/2 (56x56), the four stages (7x7), global average pool, FC num_classes:
11,689,512 / 21,797,672 / 25,557,032 parameters at 3 channels and 1000 classes.

Small-input adaptation (``small_input=True``, 32x32xC), the CIFAR-style stem: a single CONV
3x3/1, 64 (no bias) + BN + ReLU and no max pool, since a 7x7/2 conv and a pool would leave a
32x32 image at 8x8 before the first block; the stages then run at 32 -> 16 -> 8 -> 4 and the
global average pool makes the head independent of the size. Stages and blocks are unchanged.

``dropout`` (default 0, as in the paper) is applied to the pooled features before the FC.
"""

from __future__ import annotations

import torch
from torch import nn

from traindev.models.params import ResNetParams

STAGE_WIDTHS = (64, 128, 256, 512)
# variant -> (block kind, blocks per stage)
VARIANTS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
}


def _conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    """One 'layer' of the notes' block: z = BN(W * a); BN's beta replaces the conv bias."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    )


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Identity when a^[l] already has z^[l+2]'s shape, else the projection W_s a^[l]."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return _conv_bn(in_channels, out_channels, 1, stride)


class BasicBlock(nn.Module):
    """Two 3x3 layers: a^[l+2] = g(z^[l+2] + a^[l]) (ResNet-18 / 34)."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.layer1 = _conv_bn(in_channels, width, 3, stride)
        self.layer2 = _conv_bn(width, out_channels, 3)
        self.shortcut = _shortcut(in_channels, out_channels, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        a_next = self.relu(self.layer1(a))  # a^[l+1] = g(z^[l+1])
        z = self.layer2(a_next)  # z^[l+2]
        return self.relu(z + self.shortcut(a))  # a^[l+2] = g(z^[l+2] + a^[l])


class BottleneckBlock(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride) -> 1x1 expand to 4x width, then the same
    a^[l+3] = g(z^[l+3] + a^[l]) over three layers (ResNet-50)."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.layer1 = _conv_bn(in_channels, width, 1)
        self.layer2 = _conv_bn(width, width, 3, stride)
        self.layer3 = _conv_bn(width, out_channels, 1)
        self.shortcut = _shortcut(in_channels, out_channels, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        z = self.layer3(self.relu(self.layer2(self.relu(self.layer1(a)))))
        return self.relu(z + self.shortcut(a))


Block = type[BasicBlock] | type[BottleneckBlock]


def _stem(in_channels: int, small_input: bool) -> nn.Sequential:
    """Reference: 7x7/2 conv + 3x3/2 max pool (224 -> 56); small: one 3x3/1 conv (32 -> 32)."""
    if small_input:
        return nn.Sequential(_conv_bn(in_channels, 64, 3), nn.ReLU(inplace=True))
    return nn.Sequential(
        _conv_bn(in_channels, 64, 7, stride=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
    )


def _stage(block: Block, in_channels: int, width: int, blocks: int, stride: int) -> nn.Sequential:
    """`blocks` residual blocks; only the first may change the shape (stride / channels)."""
    layers = [block(in_channels, width, stride)]
    layers += [block(width * block.expansion, width) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNet(nn.Module):
    """Stem -> 4 residual stages -> global average pool -> (dropout) -> FC; returns logits."""

    def __init__(
        self, params: ResNetParams, variant: str, in_channels: int, num_classes: int
    ) -> None:
        super().__init__()
        kind, depths = VARIANTS[variant]
        block: Block = BasicBlock if kind == "basic" else BottleneckBlock
        self.stem = _stem(in_channels, params.small_input)
        stages: list[nn.Module] = []
        channels = 64
        for i, (width, blocks) in enumerate(zip(STAGE_WIDTHS, depths, strict=True)):
            stages.append(_stage(block, channels, width, blocks, stride=1 if i == 0 else 2))
            channels = width * block.expansion
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(params.dropout)
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():  # He et al. 2015 initialization, as in the paper
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.pool(self.stages(self.stem(x))).flatten(1)
        return self.fc(self.dropout(features))


def build_resnet(
    params: ResNetParams, input_shape: tuple[int, int, int], num_classes: int, variant: str
) -> ResNet:
    """Registry builder for resnet18 / resnet34 / resnet50; C from the data."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ResNet variant {variant!r}; valid: {', '.join(VARIANTS)}")
    return ResNet(params, variant, input_shape[0], num_classes)
