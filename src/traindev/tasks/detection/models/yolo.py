"""A YOLO head on any backbone (the notes' S x S grid with B anchor boxes per cell).

The backbone's feature map is brought to the grid: kept when it is S x S, average-pooled to
S x S when finer (each cell then summarizes the features inside it); a map coarser than the grid
is refused at build time, since copying a feature into several cells would make them predict
the same boxes. Then a 3x3 conv + BN + leaky ReLU and the linear 1x1 prediction conv give the
raw (N, S, S, B, 5 + C) output of det_contract.md.
"""

from __future__ import annotations

import torch
from torch import nn

from traindev.tasks.detection.models.backbones import build_backbone, feature_shape
from traindev.tasks.detection.models.layers import conv_bn_leaky, prediction_conv, to_raw_layout
from traindev.tasks.detection.models.params import YoloParams


class YoloDetector(nn.Module):
    """backbone -> (average pool to S x S) -> head -> raw (N, S, S, B, 5 + C)."""

    def __init__(
        self,
        backbone: nn.Module,
        feature_channels: int,
        params: YoloParams,
        num_classes: int,
        grid: int,
        num_anchors: int,
    ) -> None:
        super().__init__()
        self.num_anchors = num_anchors
        self.backbone = backbone
        self.to_grid = nn.AdaptiveAvgPool2d(grid)
        hidden = params.head_channels
        self.head = (
            conv_bn_leaky(feature_channels, hidden, 3, params.leaky_slope)
            if hidden
            else nn.Identity()
        )
        self.predict = prediction_conv(hidden or feature_channels, num_anchors, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.to_grid(self.backbone(x))
        return to_raw_layout(self.predict(self.head(features)), self.num_anchors)


def build_yolo(
    params: YoloParams,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    grid: int,
    num_anchors: int,
) -> YoloDetector:
    """Registry builder; the input (C, H, W) is the data's, the grid and anchors the task's."""
    backbone = build_backbone(params.backbone, params.backbone_params, input_shape[0])
    channels, height, width = feature_shape(backbone, input_shape)
    if height < grid or width < grid:
        raise ValueError(
            f"backbone {params.backbone} turns a {input_shape[1]}x{input_shape[2]} input into "
            f"a {height}x{width} feature map, coarser than the {grid}x{grid} grid: use a "
            "smaller grid, a larger input or a backbone with fewer pools"
        )
    return YoloDetector(backbone, channels, params, num_classes, grid, num_anchors)
