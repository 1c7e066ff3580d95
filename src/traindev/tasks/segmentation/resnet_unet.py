"""U-Net with a zoo ResNet as its contracting path: what practitioners train.

The encoder is detection's zoo trunk of a ResNet (`tasks.detection.models.backbones.ZooTrunk`:
its `stem` and `stages` under their own names, pool and FC dropped), so a classification run's
state dict loads into it with `load_backbone_state` (transfer learning from a classifier).
The features after the stem and after each stage are the skip connections; the expanding path
upsamples bilinearly to each skip's size (stage sizes of an odd input do not halve exactly, so
a fixed 2x transpose convolution would not fit), concatenates and convolves twice, as
`unet.UNet` does, then a 1x1 convolution gives the logits at the input's size.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from traindev.models.registry import get_architecture, validate_params
from traindev.models.resnet import ResNet
from traindev.tasks.detection.models.backbones import ZooTrunk
from traindev.tasks.segmentation.params import UNetParams
from traindev.tasks.segmentation.unet import _double_conv

RESNET_ENCODERS = ("resnet18", "resnet34", "resnet50")


def _out_channels(module: nn.Module) -> int:
    """Channels a stem or stage outputs: its last batch norm's (every path ends in one)."""
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)][-1].num_features


class ResNetUNet(nn.Module):
    """(N, C, H, W) images -> (N, num_classes, H, W) logits, a zoo ResNet as the encoder."""

    def __init__(
        self,
        encoder: str,
        encoder_params: Mapping[str, object],
        params: UNetParams,
        in_channels: int,
        num_classes: int,
    ) -> None:
        super().__init__()
        if encoder not in RESNET_ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r}; valid: {', '.join(RESNET_ENCODERS)}")
        checked = validate_params(encoder, dict(encoder_params))
        zoo = get_architecture(encoder).build(checked, (in_channels, 32, 32), 1)
        assert isinstance(zoo, ResNet)
        self.encoder = ZooTrunk(zoo)
        stem, stages = self.encoder.stem, self.encoder.stages
        widths = [_out_channels(stem)] + [_out_channels(stage) for stage in stages]
        decoder_params = params.model_copy(update={"padding": "same"})
        self.up_conv = nn.ModuleList()
        channels = widths[-1]
        for skip in reversed(widths[:-1]):
            self.up_conv.append(_double_conv(channels + skip, skip, decoder_params))
            channels = skip
        self.head = nn.Conv2d(channels, num_classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        skips = [self.encoder.stem(images)]
        for stage in self.encoder.stages:
            skips.append(stage(skips[-1]))
        features = skips.pop()
        for block, skip in zip(self.up_conv, reversed(skips), strict=True):
            features = F.interpolate(
                features, size=skip.shape[-2:], mode="bilinear", align_corners=False
            )
            features = block(torch.cat([skip, features], dim=1))
        if features.shape[-2:] != images.shape[-2:]:
            features = F.interpolate(
                features, size=images.shape[-2:], mode="bilinear", align_corners=False
            )
        return self.head(features)
