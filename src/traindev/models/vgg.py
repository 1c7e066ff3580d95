"""VGG-16 as the notes draw it (course 4, week 2 "Case studies"; Simonyan & Zisserman, 2015).

Configuration D: 13 convolutions, all 3x3 stride 1 'same', in five blocks of
64-64 | 128-128 | 256-256-256 | 512-512-512 | 512-512-512 filters, each block closed by a
2x2/2 max pool, ReLU after every convolution.

Reference configuration (``small_input=False``, 224x224xC): 224 -> 7x7x512 = 25088 features
-> FC 4096 -> FC 4096 -> FC num_classes with dropout before the two hidden FC layers (as in the
paper's training setup): 138,357,544 parameters at 3 channels and 1000 classes, the notes'
"approximately 138 million".

Small-input adaptation (``small_input=True``, 32x32xC): the same 13 convolutions and 5 pools,
which take 32x32 down to 1x1x512, then the classifier of the common CIFAR VGG,
FC 512 -> FC 512 -> num_classes (a 4096-wide FC on 512 features would be 90% of the model for
no gain on 10 classes). ``batch_norm`` puts BN between each convolution and its ReLU (the
"VGG-16-BN" variant; the paper predates batch norm). Dropout comes from params in both cases.
Without it the 13-conv plain stack collapsed to chance within a few Adam (lr 1e-3) steps on the
digits (batch 32); with it, the same run kept descending.
"""

from __future__ import annotations

import torch
from torch import nn

from traindev.models.params import VGG16Params
from traindev.models.plain_convnet import fc_classifier, init_plain_convnet

# Configuration D: filter counts per block, each block followed by a 2x2/2 max pool.
BLOCKS: tuple[tuple[int, ...], ...] = (
    (64, 64),
    (128, 128),
    (256, 256, 256),
    (512, 512, 512),
    (512, 512, 512),
)
REFERENCE_HIDDEN = 4096
SMALL_HIDDEN = 512


def _features(in_channels: int, batch_norm: bool) -> nn.Sequential:
    """The 13 'same' 3x3 convolutions and the 5 max pools (each pool halves H and W)."""
    layers: list[nn.Module] = []
    channels = in_channels
    for block in BLOCKS:
        for filters in block:
            layers.append(nn.Conv2d(channels, filters, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(filters))
            layers.append(nn.ReLU(inplace=True))
            channels = filters
        layers.append(nn.MaxPool2d(2, stride=2))
    return nn.Sequential(*layers)


class VGG16(nn.Module):
    """VGG-16 on NCHW input at 224x224 (reference) or 32x32 (small); returns logits."""

    def __init__(self, params: VGG16Params, in_channels: int, num_classes: int) -> None:
        super().__init__()
        side = 1 if params.small_input else 7  # 32 / 2^5 or 224 / 2^5
        hidden = SMALL_HIDDEN if params.small_input else REFERENCE_HIDDEN
        self.features = _features(in_channels, params.batch_norm)
        self.classifier = fc_classifier(
            BLOCKS[-1][-1] * side * side, hidden, num_classes, params.dropout
        )
        init_plain_convnet(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def build_vgg16(params: VGG16Params, input_shape: tuple[int, int, int], num_classes: int) -> VGG16:
    """Registry builder: C from the data; (H, W) is already 224x224 or 32x32 (the adapter's)."""
    return VGG16(params, input_shape[0], num_classes)
