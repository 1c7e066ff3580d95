"""The notes' convolution-cost arithmetic (course 4, week 2), checked against real layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from traindev.models.conv_cost import (
    bottleneck_multiplications,
    conv_multiplications,
    conv_output_size,
    depthwise_multiplications,
    depthwise_separable_cost_ratio,
    depthwise_separable_multiplications,
    module_multiplications,
    pointwise_multiplications,
)
from traindev.models.registry import build_model


def test_inception_5x5_cost_without_and_with_bottleneck() -> None:
    # 28x28x192 -> 28x28x32 with 5x5 'same' convs: "120 million multiplications".
    direct = conv_multiplications(28, 28, 32, 5, 5, 192)
    assert direct == 120_422_400
    # Through a 1x1 bottleneck to 16 channels: "2.4 + 10 = 12.4 million".
    assert conv_multiplications(28, 28, 16, 1, 1, 192) == 2_408_448
    assert conv_multiplications(28, 28, 32, 5, 5, 16) == 10_035_200
    reduced = bottleneck_multiplications(28, 28, in_c=192, bottleneck_c=16, out_c=32, f=5)
    assert reduced == 12_443_648
    assert reduced / direct == pytest.approx(0.1, abs=0.005)  # "about one tenth"


def test_depthwise_separable_example_of_the_notes() -> None:
    # 6x6x3 input, 3x3 filters, 5 output channels, no padding -> 4x4x5.
    n_out = conv_output_size(6, 3)
    assert n_out == 4
    normal = conv_multiplications(n_out, n_out, 5, 3, 3, 3)
    depthwise = depthwise_multiplications(n_out, n_out, 3, 3)
    pointwise = pointwise_multiplications(n_out, n_out, 3, 5)
    assert (normal, depthwise, pointwise) == (2160, 432, 240)
    separable = depthwise_separable_multiplications(n_out, n_out, 3, 5, 3)
    assert separable == 672
    assert separable / normal == pytest.approx(depthwise_separable_cost_ratio(5, 3))
    assert depthwise_separable_cost_ratio(5, 3) == pytest.approx(0.31, abs=0.005)  # "31%"


@pytest.mark.parametrize(
    ("n_out", "n_c", "n_c_out", "f"), [(4, 3, 5, 3), (28, 192, 32, 5), (7, 512, 1024, 3)]
)
def test_cost_ratio_formula_is_exact(n_out: int, n_c: int, n_c_out: int, f: int) -> None:
    normal = conv_multiplications(n_out, n_out, n_c_out, f, f, n_c)
    separable = depthwise_separable_multiplications(n_out, n_out, n_c, n_c_out, f)
    assert separable / normal == pytest.approx(depthwise_separable_cost_ratio(n_c_out, f))


def test_real_layers_cost_what_the_arithmetic_says() -> None:
    """A normal conv and its depthwise + pointwise replacement, run on the notes' 6x6x3."""
    x = torch.rand(1, 3, 6, 6)
    normal = nn.Conv2d(3, 5, 3)
    depthwise, pointwise = nn.Conv2d(3, 3, 3, groups=3), nn.Conv2d(3, 5, 1)
    y_normal = normal(x)
    y_depthwise = depthwise(x)
    y_separable = pointwise(y_depthwise)
    assert y_normal.shape == y_separable.shape == (1, 5, 4, 4)  # same input-output dimensions
    normal_cost = module_multiplications(normal, *y_normal.shape[2:])
    separable_cost = module_multiplications(
        depthwise, *y_depthwise.shape[2:]
    ) + module_multiplications(pointwise, *y_separable.shape[2:])
    assert (normal_cost, separable_cost) == (2160, 672)
    assert separable_cost / normal_cost == pytest.approx(depthwise_separable_cost_ratio(5, 3))


def _multiply_adds(name: str, resolution: int) -> int:
    """Conv + FC multiplications of one reference-size image, counted on the meta device."""
    total = 0

    def hook(module: nn.Module, _inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += module_multiplications(module, out.shape[2], out.shape[3])
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    shape = (3, resolution, resolution)
    with torch.device("meta"):
        model = build_model(name, {"small_input": False}, shape, 1000)
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                module.register_forward_hook(hook)
        model(torch.empty(1, *shape))
    return total


@pytest.mark.parametrize(
    ("name", "resolution", "millions", "rel"),
    [
        ("mobilenet_v1", 224, 569, 0.005),  # Howard et al. 2017, table 8: 569M mult-adds
        ("mobilenet_v2", 224, 300, 0.005),  # Sandler et al. 2018, table 4: 300M
        ("efficientnet_b0", 224, 390, 0.02),  # Tan & Le 2019, table 2: 0.39B FLOPs
        ("googlenet", 224, 1500, 0.06),  # Szegedy et al. 2014: "1.5 billion multiply-adds"
    ],
)
def test_published_multiply_adds(name: str, resolution: int, millions: int, rel: float) -> None:
    """The per-layer arithmetic summed over the built networks gives the papers' figures."""
    assert _multiply_adds(name, resolution) / 1e6 == pytest.approx(millions, rel=rel)
