"""U-Net as Ronneberger, Fischer and Brox draw it (MICCAI 2015, Fig. 1).

Contracting path: per level two 3x3 convolutions with ReLU, then a 2x2 max pooling with stride
2; the channels start at `base_width` and double per level. Expanding path: per level an
upsampling that halves the channels (a 2x2 stride-2 transpose convolution, or bilinear + 1x1
convolution), concatenation with the contracting level's features (centre-cropped under `valid`
padding, as the paper's grey arrows), two 3x3 convolutions. A 1x1 convolution maps the last 64
(`base_width`) channels to one logit per class.

With `valid` padding each 3x3 convolution loses 2 pixels per side pair, so the paper's 572x572
input gives a 388x388 output (`output_size`); an input whose size is odd before a pooling is
refused, since pooling it would misalign the skip connections.
"""

from __future__ import annotations

import torch
from torch import nn

from traindev.tasks.segmentation.params import UNetParams


def _double_conv(channels_in: int, channels_out: int, params: UNetParams) -> nn.Sequential:
    padding = 1 if params.padding == "same" else 0
    layers: list[nn.Module] = []
    for index in range(2):
        layers.append(
            nn.Conv2d(
                channels_in if index == 0 else channels_out,
                channels_out,
                3,
                padding=padding,
                bias=not params.batch_norm,
            )
        )
        if params.batch_norm:
            layers.append(nn.BatchNorm2d(channels_out))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _upsampling(channels_in: int, params: UNetParams) -> nn.Module:
    if params.upsampling == "transpose":
        return nn.ConvTranspose2d(channels_in, channels_in // 2, 2, stride=2)
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.Conv2d(channels_in, channels_in // 2, 1),
    )


def center_crop(features: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The centre (height, width) window of (N, C, H, W) features (the paper's 'copy and crop')."""
    top = (features.shape[-2] - height) // 2
    left = (features.shape[-1] - width) // 2
    return features[..., top : top + height, left : left + width]


def output_size(size: int, params: UNetParams) -> int:
    """The output side for an input side `size`; raises where pooling would meet an odd side."""
    shrink = 0 if params.padding == "same" else 4  # two unpadded 3x3 convolutions
    for level in range(params.depth):
        size -= shrink
        if size <= 0 or size % 2:
            raise ValueError(
                f"U-Net input side must stay even and positive before each of its "
                f"{params.depth} poolings; it is {size} before pooling {level + 1}"
            )
        size //= 2
    size -= shrink
    for _ in range(params.depth):
        size = size * 2 - shrink
    if size <= 0:
        raise ValueError(f"U-Net input too small: the output side would be {size}")
    return size


class UNet(nn.Module):
    """(N, in_channels, H, W) images -> (N, num_classes, H', W') logits (H' = output_size(H))."""

    def __init__(self, params: UNetParams, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.params = params
        widths = [params.base_width * 2**level for level in range(params.depth + 1)]
        self.down = nn.ModuleList()
        channels = in_channels
        for width in widths[:-1]:
            self.down.append(_double_conv(channels, width, params))
            channels = width
        self.pool = nn.MaxPool2d(2)
        self.bottom = _double_conv(widths[-2], widths[-1], params)
        self.up = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.up.append(_upsampling(width * 2, params))
            self.up_conv.append(_double_conv(width * 2, width, params))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        skips = []
        features = images
        for block in self.down:
            features = block(features)
            skips.append(features)
            features = self.pool(features)
        features = self.bottom(features)
        for upsample, block, skip in zip(self.up, self.up_conv, reversed(skips), strict=True):
            features = upsample(features)
            skip = center_crop(skip, features.shape[-2], features.shape[-1])
            features = block(torch.cat([skip, features], dim=1))
        return self.head(features)


def build_unet(params: UNetParams, in_channels: int, num_classes: int) -> nn.Module:
    """The network `params.encoder` names; checks nothing about the input size."""
    if params.encoder == "unet":
        return UNet(params, in_channels, num_classes)
    from traindev.tasks.segmentation.resnet_unet import ResNetUNet  # imports the zoo

    return ResNetUNet(params.encoder, params.encoder_params, params, in_channels, num_classes)
