"""AlexNet as the notes draw it (course 4, week 2 "Case studies"; Krizhevsky et al., 2012).

Reference configuration (``small_input=False``, 227x227xC):

    CONV 11x11/4, 96 (55x55x96) -> MAXPOOL 3x3/2 (27x27x96) -> CONV 5x5 same, 256 (27x27x256)
    -> MAXPOOL 3x3/2 (13x13x256) -> CONV 3x3 same, 384 -> CONV 3x3 same, 384
    -> CONV 3x3 same, 256 (13x13x256) -> MAXPOOL 3x3/2 (6x6x256 = 9216)
    -> FC 4096 -> FC 4096 -> FC num_classes

with ReLU after every layer but the last and dropout before the two hidden FC layers. The
paper's two-GPU split (grouped convolutions) and Local Response Normalization are left out, as
the notes do ("not commonly used today"): 62,378,344 parameters at 3 channels and 1000 classes,
the notes' "approximately 60 million".

Small-input adaptation (``small_input=True``, 32x32xC): the same five convolutions with the same
filter counts (96-256-384-384-256) and the same overlapping 3x3/2 max pools, but the first
convolution is 5x5 at stride 1 ('same') instead of 11x11 at stride 4, since a stride-4 11x11
filter would throw away most of a 32x32 (upsampled 8x8) digit. The pools are padded by one so
that they halve exactly: 32 -> 16 -> 8 -> 4, giving 4x4x256 = 4096 features. The hidden FC
layers are 1024 wide instead of 4096: with 4096 inputs a 4096-wide FC alone would hold 16.8M
weights for 10 classes, while 1024 keeps the classifier (~5.3M) in proportion to the conv stack
(~3.7M), as the reference's is to its own, and the whole model (~9M parameters) trains on CPU.

Like the original (trained with SGD at 0.01), this plain ReLU stack has no normalization: with
Adam at lr 1e-3 it collapsed to chance within a few steps on the digits (batch 32). A smaller
learning rate (e.g. 1e-4) is the usual remedy; only its first steps were checked here.
"""

from __future__ import annotations

import torch
from torch import nn

from traindev.models.params import AlexNetParams
from traindev.models.plain_convnet import fc_classifier, init_plain_convnet

REFERENCE_HIDDEN = 4096
SMALL_HIDDEN = 1024
FILTERS = (96, 256, 384, 384, 256)


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    # 'same' padding for stride 1; the stride-4 first layer of the reference is unpadded.
    padding = kernel // 2 if stride == 1 else 0
    return [nn.Conv2d(in_channels, out_channels, kernel, stride, padding), nn.ReLU(inplace=True)]


def _features(in_channels: int, small_input: bool) -> nn.Sequential:
    """The five convolutions and three overlapping max pools."""
    first = _conv(in_channels, FILTERS[0], 5) if small_input else _conv(in_channels, 96, 11, 4)
    pad = 1 if small_input else 0  # small: each pool halves exactly (32 -> 16 -> 8 -> 4)
    return nn.Sequential(
        *first,
        nn.MaxPool2d(3, stride=2, padding=pad),
        *_conv(FILTERS[0], FILTERS[1], 5),
        nn.MaxPool2d(3, stride=2, padding=pad),
        *_conv(FILTERS[1], FILTERS[2], 3),
        *_conv(FILTERS[2], FILTERS[3], 3),
        *_conv(FILTERS[3], FILTERS[4], 3),
        nn.MaxPool2d(3, stride=2, padding=pad),
    )


class AlexNet(nn.Module):
    """AlexNet on NCHW input at 227x227 (reference) or 32x32 (small); returns logits."""

    def __init__(self, params: AlexNetParams, in_channels: int, num_classes: int) -> None:
        super().__init__()
        side = 4 if params.small_input else 6  # spatial size after the last pool
        hidden = SMALL_HIDDEN if params.small_input else REFERENCE_HIDDEN
        self.features = _features(in_channels, params.small_input)
        self.classifier = fc_classifier(
            FILTERS[-1] * side * side, hidden, num_classes, params.dropout
        )
        init_plain_convnet(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def build_alexnet(
    params: AlexNetParams, input_shape: tuple[int, int, int], num_classes: int
) -> AlexNet:
    """Registry builder: C from the data; (H, W) is already 227x227 or 32x32 (the adapter's)."""
    return AlexNet(params, input_shape[0], num_classes)
