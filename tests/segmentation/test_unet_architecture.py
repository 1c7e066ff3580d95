"""U-Net: the paper's parameter count, output sizes, the transpose convolution, a small fit."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

from traindev.tasks.segmentation.losses import segmentation_loss
from traindev.tasks.segmentation.params import PAPER_UNET, SegmentationLossParams, UNetParams
from traindev.tasks.segmentation.unet import UNet, output_size

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _conv(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out


def test_paper_configuration_has_the_published_parameter_count():
    # Fig. 1 of Ronneberger et al. 2015, layer by layer: 18 3x3 convolutions, 4 2x2 up-convs,
    # one 1x1 to 2 classes. The paper prints no total; 31,030,658 is the count every faithful
    # reproduction reports (e.g. the Keras ports' model.summary()).
    widths = [64, 128, 256, 512, 1024]
    expected = _conv(3, 1, 64) + _conv(3, 64, 64)
    for c_in, c_out in pairwise(widths):
        expected += _conv(3, c_in, c_out) + _conv(3, c_out, c_out)
    for c_in, c_out in pairwise(reversed(widths)):
        expected += _conv(2, c_in, c_out) + _conv(3, c_in, c_out) + _conv(3, c_out, c_out)
    expected += _conv(1, 64, 2)
    with torch.device("meta"):
        model = UNet(PAPER_UNET, in_channels=1, num_classes=2)
    assert sum(p.numel() for p in model.parameters()) == expected == 31_030_658


def test_valid_padding_gives_the_papers_crop():
    with torch.device("meta"):
        model = UNet(PAPER_UNET, 1, 2)
        out = model(torch.empty(1, 1, 572, 572))
    assert out.shape == (1, 2, 388, 388) and output_size(572, PAPER_UNET) == 388


def test_valid_padding_refuses_sizes_pooling_would_misalign():
    with pytest.raises(ValueError, match="even"):
        output_size(570, PAPER_UNET)


@pytest.mark.parametrize("upsampling", ["transpose", "bilinear"])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_same_padding_keeps_the_input_size(upsampling, batch_norm):
    params = UNetParams(depth=2, base_width=4, upsampling=upsampling, batch_norm=batch_norm)
    out = UNet(params, 3, 5)(torch.zeros(2, 3, 24, 40))
    assert out.shape == (2, 5, 24, 40) and output_size(24, params) == 24


def test_transpose_convolution_places_the_filter_on_the_output():
    # The notes' picture: each input value multiplies the filter, which is placed on the output
    # at stride 2; a 2x2 filter at stride 2 tiles the output without overlap.
    model = UNet(UNetParams(depth=1, base_width=2, batch_norm=False), 1, 2)
    up = model.up[0]
    with torch.no_grad():
        up.weight.zero_()
        up.bias.zero_()
        up.weight[0, 0] = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
        x = torch.zeros(1, 4, 2, 2)
        x[0, 0] = torch.tensor([[1.0, 10.0], [0.0, -1.0]])
        out = up(x)[0, 0]
    expected = torch.tensor(
        [[1, 2, 10, 20], [3, 4, 30, 40], [0, 0, -1, -2], [0, 0, -3, -4]], dtype=torch.float32
    )
    assert torch.equal(out, expected)


def test_small_configuration_learns_squares_on_64x64_canvases():
    torch.manual_seed(0)
    images = torch.zeros(8, 1, 64, 64)
    masks = torch.zeros(8, 64, 64, dtype=torch.long)
    for i in range(8):
        top, left = 4 + 5 * i, 50 - 5 * i
        images[i, 0, top : top + 10, left : left + 10] = 1.0
        masks[i, top : top + 10, left : left + 10] = 1 + i % 2
        images[i, 0, top : top + 10, left : left + 10] += 0.5 * (i % 2)
    model = UNet(UNetParams(depth=2, base_width=8), 1, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    params = SegmentationLossParams(dice_weight=0.5)
    for _ in range(40):
        optimizer.zero_grad()
        loss = segmentation_loss(model(images), masks, params, 255)
        loss.backward()
        optimizer.step()
    model.eval()
    accuracy = (model(images).argmax(1) == masks).float().mean()
    assert accuracy > 0.98
