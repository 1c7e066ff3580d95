"""GoogLeNet / Inception v1 (Szegedy et al. 2014, "Going deeper with convolutions", table 1).

The notes (course 4, week 2, "Inception Network") motivate the module: instead of choosing
between a 1x1, 3x3, 5x5 conv or a pool, do all of them and concatenate along channels, with
1x1 "bottleneck" convs in front of the 3x3 and 5x5 branches (and after the pool) so that the
5x5 branch costs about a tenth of the naive one (see ``conv_cost``).

Reference configuration (``small_input=False``, 224x224): 7x7/2 conv 64 -> 3x3/2 max pool ->
1x1 conv 64 -> 3x3 conv 192 -> 3x3/2 max pool -> inception 3a, 3b -> max pool -> 4a..4e ->
max pool -> 5a, 5b -> 7x7 average pool -> dropout 0.4 -> linear. The branch widths are the
table's #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5 and pool proj columns (``INCEPTION_TABLE``).

Deliberate choices:

* The 5x5 branch is a real 5x5 conv, as in the paper (torchvision's GoogLeNet uses a 3x3
  there, a known deviation, so its 6,624,904 parameter figure does not apply here).
* No auxiliary classifiers: the paper attaches two to 4a and 4d only to help training and
  discards them at inference, so the deployed network is the one built here.
* No local response normalization (the paper's LRN after the first two conv stages).
* ``batch_norm=False`` is the paper's conv + bias + ReLU; ``batch_norm=True`` is conv (no bias)
  + BN + ReLU, which trains far more easily. Without BN the convs get He initialization
  (course 2, week 1) so the 22 layers neither explode nor vanish at the start.

Small-input adaptation (``small_input=True``, native 32x32, as in the common CIFAR GoogLeNets):
the stem is a single 3x3 stride-1 conv to 192 channels and the two early max pools are
dropped, so inception 3 runs at 32x32, 4 at 16x16 and 5 at 8x8 before the global average pool.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from traindev.models.params import GoogLeNetParams


class InceptionSpec(NamedTuple):
    """One row of the paper's table 1 (output channels = ch1x1 + ch3x3 + ch5x5 + pool_proj)."""

    ch1x1: int
    ch3x3_reduce: int
    ch3x3: int
    ch5x5_reduce: int
    ch5x5: int
    pool_proj: int

    @property
    def out_channels(self) -> int:
        return self.ch1x1 + self.ch3x3 + self.ch5x5 + self.pool_proj


# Szegedy et al. 2014, table 1.
INCEPTION_TABLE: dict[str, InceptionSpec] = {
    "3a": InceptionSpec(64, 96, 128, 16, 32, 32),
    "3b": InceptionSpec(128, 128, 192, 32, 96, 64),
    "4a": InceptionSpec(192, 96, 208, 16, 48, 64),
    "4b": InceptionSpec(160, 112, 224, 24, 64, 64),
    "4c": InceptionSpec(128, 128, 256, 24, 64, 64),
    "4d": InceptionSpec(112, 144, 288, 32, 64, 64),
    "4e": InceptionSpec(256, 160, 320, 32, 128, 128),
    "5a": InceptionSpec(256, 160, 320, 32, 128, 128),
    "5b": InceptionSpec(384, 192, 384, 48, 128, 128),
}
# A 3x3/2 max pool sits before each of these stages.
POOL_BEFORE = frozenset({"4a", "5a"})


def conv_relu(
    in_channels: int, out_channels: int, kernel_size: int, batch_norm: bool, stride: int = 1
) -> nn.Sequential:
    """'Same' conv + ReLU; with BN the conv's bias is redundant (BN's beta replaces it)."""
    conv = nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=kernel_size // 2,
        bias=not batch_norm,
    )
    layers: list[nn.Module] = [conv]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _max_pool() -> nn.MaxPool2d:
    # 3x3/2 with padding 1 halves even sizes: 112 -> 56 -> 28 -> 14 -> 7 at 224, as in table 1.
    return nn.MaxPool2d(3, stride=2, padding=1)


class InceptionModule(nn.Module):
    """Four parallel branches concatenated on channels (the notes' inception module)."""

    def __init__(self, in_channels: int, spec: InceptionSpec, batch_norm: bool) -> None:
        super().__init__()
        self.spec = spec
        self.branch1x1 = conv_relu(in_channels, spec.ch1x1, 1, batch_norm)
        self.branch3x3 = nn.Sequential(
            conv_relu(in_channels, spec.ch3x3_reduce, 1, batch_norm),
            conv_relu(spec.ch3x3_reduce, spec.ch3x3, 3, batch_norm),
        )
        self.branch5x5 = nn.Sequential(
            conv_relu(in_channels, spec.ch5x5_reduce, 1, batch_norm),
            conv_relu(spec.ch5x5_reduce, spec.ch5x5, 5, batch_norm),  # a real 5x5, as in the paper
        )
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1),
            conv_relu(in_channels, spec.pool_proj, 1, batch_norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1x1, self.branch3x3, self.branch5x5, self.branch_pool)
        return torch.cat([branch(x) for branch in branches], dim=1)


def _stem(in_channels: int, small_input: bool, batch_norm: bool) -> nn.Sequential:
    """Layers before inception 3a; both end with 192 channels."""
    if small_input:
        return nn.Sequential(conv_relu(in_channels, 192, 3, batch_norm))
    return nn.Sequential(
        conv_relu(in_channels, 64, 7, batch_norm, stride=2),
        _max_pool(),
        conv_relu(64, 64, 1, batch_norm),  # table 1's "3x3 reduce" of the second conv stage
        conv_relu(64, 192, 3, batch_norm),
        _max_pool(),
    )


class GoogLeNet(nn.Module):
    """Inception v1 without auxiliary classifiers; returns logits."""

    def __init__(self, params: GoogLeNetParams, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.stem = _stem(in_channels, params.small_input, params.batch_norm)
        self.inception = nn.ModuleDict()
        channels = 192
        for name, spec in INCEPTION_TABLE.items():
            self.inception[name] = InceptionModule(channels, spec, params.batch_norm)
            channels = spec.out_channels
        self.pool = _max_pool()
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # the paper's 7x7 average pool at 224
        self.dropout = nn.Dropout(params.dropout)
        self.fc = nn.Linear(channels, num_classes)
        _init_weights(self, params.batch_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for name, module in self.inception.items():
            if name in POOL_BEFORE:
                x = self.pool(x)
            x = module(x)
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


def _init_weights(model: nn.Module, batch_norm: bool) -> None:
    """He init for the ReLU convs (keeps the BN-free variant trainable); small normal for FC.

    Skipped on the meta device (shape-only models have no values to initialize).
    """
    if any(p.is_meta for p in model.parameters()):
        return
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            mode = "fan_out" if batch_norm else "fan_in"
            nn.init.kaiming_normal_(module.weight, mode=mode, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
            nn.init.zeros_(module.bias)


def build_googlenet(
    params: GoogLeNetParams, input_shape: tuple[int, int, int], num_classes: int
) -> GoogLeNet:
    """Registry builder: takes C from the data; H, W are handled by the registry's adapter."""
    return GoogLeNet(params, input_shape[0], num_classes)
