"""Darknet-19, YOLOv2 and a small Darknet-style backbone (Redmon & Farhadi 2017, "YOLO9000:
Better, Faster, Stronger"; darknet's cfg/darknet19.cfg and cfg/yolov2.cfg).

Darknet-19 (the paper's table 6, without the 1000-way 1x1 conv and pool of the classifier):
3x3 convolutions doubling the channels after each of five 2x2 max pools, 1x1 convolutions
halving them in between, batch norm and leaky ReLU (0.1) everywhere: stride 32, 1024 channels.

YOLOv2 on top (yolov2.cfg): two 3x3x1024 convolutions; the passthrough layer takes the last
2S x 2S x 512 map (before the fifth pool), reduces it with a 1x1x64 convolution, turns each 2x2
neighbourhood into channels (darknet's `reorg`, here torch's pixel_unshuffle: the same
space-to-depth up to the order of channels, which only fixes which weight sees which value) and
concatenates it with the S x S x 1024 map; a 3x3x1024 convolution and a linear 1x1 convolution
to B * (5 + C) give the raw (N, S, S, B, 5 + C) output. At 608x608x3, 5 anchors and 80 classes:
S = 19 and 50,962,889 trainable parameters (50,983,561 with the batch-norm statistics).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from traindev.tasks.detection.models.layers import (
    conv_bn_leaky,
    prediction_conv,
    to_raw_layout,
)
from traindev.tasks.detection.models.params import (
    Darknet19Params,
    DarknetSmallParams,
    YoloV2Params,
)

# Darknet-19's five stages before the pools: (filters, kernel) per convolution.
DARKNET19_STAGES: tuple[tuple[tuple[int, int], ...], ...] = (
    ((32, 3),),
    ((64, 3),),
    ((128, 3), (64, 1), (128, 3)),
    ((256, 3), (128, 1), (256, 3)),
    ((512, 3), (256, 1), (512, 3), (256, 1), (512, 3)),
    ((1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3)),
)
STRIDE = 32
PASSTHROUGH_CHANNELS = 64


def _stage(in_channels: int, layers: tuple[tuple[int, int], ...], slope: float) -> nn.Sequential:
    blocks = []
    for filters, kernel in layers:
        blocks.append(conv_bn_leaky(in_channels, filters, kernel, slope))
        in_channels = filters
    return nn.Sequential(*blocks)


class Darknet19(nn.Module):
    """Darknet-19's 18 convolutions and 5 max pools; `forward_with_fine` also returns the
    2S x 2S x 512 map the YOLOv2 passthrough layer reads."""

    out_channels = DARKNET19_STAGES[-1][-1][0]
    fine_channels = DARKNET19_STAGES[-2][-1][0]

    def __init__(self, in_channels: int, params: Darknet19Params) -> None:
        super().__init__()
        stages = []
        for layers in DARKNET19_STAGES:
            stages.append(_stage(in_channels, layers, params.leaky_slope))
            in_channels = layers[-1][0]
        self.stages = nn.ModuleList(stages)
        self.pool = nn.MaxPool2d(2, stride=2)

    def forward_with_fine(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the 2S x 2S x 512 map before the last pool, the S x S x 1024 output)."""
        for stage in self.stages[:-1]:
            x = stage(x)
            fine = x
            x = self.pool(x)
        return fine, self.stages[-1](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_fine(x)[1]


class DarknetSmall(nn.Sequential):
    """3x3 conv + BN + leaky ReLU per width, a 2x2 max pool between widths (tiny-YOLO style)."""

    def __init__(self, in_channels: int, params: DarknetSmallParams) -> None:
        layers: list[nn.Module] = []
        for index, filters in enumerate(params.filters):
            if index:
                layers.append(nn.MaxPool2d(2, stride=2))
            layers.append(conv_bn_leaky(in_channels, filters, 3, params.leaky_slope))
            in_channels = filters
        super().__init__(*layers)
        self.out_channels = in_channels


class YoloV2(nn.Module):
    """Darknet-19 + the YOLOv2 detection layers; returns raw (N, S, S, B, 5 + C) with
    S = H / 32 (H and W must be multiples of 32, e.g. 416 -> 13, 608 -> 19)."""

    def __init__(
        self, in_channels: int, params: YoloV2Params, num_classes: int, num_anchors: int
    ) -> None:
        super().__init__()
        slope = params.leaky_slope
        self.num_anchors = num_anchors
        self.backbone = Darknet19(in_channels, Darknet19Params(leaky_slope=slope))
        width = Darknet19.out_channels
        self.detection = nn.Sequential(
            conv_bn_leaky(width, width, 3, slope), conv_bn_leaky(width, width, 3, slope)
        )
        self.passthrough = (
            conv_bn_leaky(Darknet19.fine_channels, PASSTHROUGH_CHANNELS, 1, slope)
            if params.passthrough
            else None
        )
        merged = width + (PASSTHROUGH_CHANNELS * 4 if params.passthrough else 0)
        self.merge = conv_bn_leaky(merged, width, 3, slope)
        self.predict = prediction_conv(width, num_anchors, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine, coarse = self.backbone.forward_with_fine(x)
        coarse = self.detection(coarse)
        if self.passthrough is not None:
            # darknet's `route -1,-4`: the reorganized fine map first, then the coarse one.
            reorganized = F.pixel_unshuffle(self.passthrough(fine), 2)
            coarse = torch.cat([reorganized, coarse], dim=1)
        return to_raw_layout(self.predict(self.merge(coarse)), self.num_anchors)


def build_yolov2(
    params: YoloV2Params,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    grid: int,
    num_anchors: int,
) -> YoloV2:
    """Registry builder: the grid is fixed by the input (S = H / 32), so it must agree."""
    channels, height, width = input_shape
    if height % STRIDE or width % STRIDE or height != width:
        raise ValueError(
            f"yolov2 needs a square input with a side multiple of {STRIDE}, got {height}x{width}"
        )
    if grid != height // STRIDE:
        raise ValueError(
            f"yolov2 at {height}x{width} predicts a {height // STRIDE}x{height // STRIDE} grid, "
            f"but the grid is {grid}: set the grid to input side / {STRIDE}"
        )
    return YoloV2(channels, params, num_classes, num_anchors)
