"""AlexNet, VGG-16 and ResNet-18/34/50: faithful at the reference size, trainable when small.

Reference-size models are only ever built on the meta device (shapes and parameter counts, no
memory, no compute); everything that runs real numbers uses the small 32x32 configuration.
"""

from __future__ import annotations

import math

import pytest
import torch
from helpers.model_checks import assert_exports_with_dynamic_batch
from torch import nn

from traindev.models.input_adapter import InputAdapter
from traindev.models.params import ResNetParams
from traindev.models.registry import build_model, count_parameters
from traindev.models.resnet import build_resnet

NAMES = ["alexnet", "vgg16", "resnet18", "resnet34", "resnet50"]
SMALL = (1, 8, 8)  # the digits; the adapter upsamples them to 32x32

# The published figures at 3 channels and 1000 classes (torchvision's for the ResNets).
REFERENCE = {
    "alexnet": (227, 62_378_344),
    "vgg16": (224, 138_357_544),
    "resnet18": (224, 11_689_512),
    "resnet34": (224, 21_797_672),
    "resnet50": (224, 25_557_032),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _reference_model(name: str) -> nn.Module:
    size = REFERENCE[name][0]
    with torch.device("meta"):
        return build_model(name, {"small_input": False}, (3, size, size), 1000)


@pytest.mark.parametrize("name", NAMES)
def test_reference_parameter_count(name: str) -> None:
    model = _reference_model(name)
    assert not isinstance(model, InputAdapter)  # the data is already at the native size
    assert count_parameters(model) == REFERENCE[name][1]


@pytest.mark.parametrize("name", NAMES)
def test_reference_output_shape_on_meta(name: str) -> None:
    size = REFERENCE[name][0]
    model = _reference_model(name).eval()
    out = model(torch.empty(2, 3, size, size, device="meta"))
    assert out.shape == (2, 1000)


def test_vgg_batch_norm_adds_gamma_and_beta() -> None:
    with torch.device("meta"):
        model = build_model(
            "vgg16", {"small_input": False, "batch_norm": True}, (3, 224, 224), 1000
        )
    filters = 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512
    assert count_parameters(model) == REFERENCE["vgg16"][1] + 2 * filters


@pytest.mark.parametrize("name", NAMES)
def test_small_output_shape_and_deterministic_eval(name: str) -> None:
    model = build_model(name, {"dropout": 0.5}, SMALL, 10).eval()
    assert isinstance(model, InputAdapter) and model.native_input == (32, 32)
    x = torch.rand(2, *SMALL)
    with torch.no_grad():
        out = model(x)
        again = model(x)
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()
    assert torch.equal(out, again)  # eval: dropout off, batch norm on its running statistics


@pytest.mark.parametrize(
    ("name", "params"),
    [("alexnet", {"dropout": 0.0}), ("vgg16", {"dropout": 0.0}), ("resnet18", {})],
)
def test_adam_steps_lower_the_loss(name: str, params: dict[str, object]) -> None:
    """Gradients reach every layer and Adam (lr 1e-3) descends on a tiny fixed batch.

    The best of the losses after the first steps is compared, not the last: the BN-free
    AlexNet / VGG overshoot once a 2-example batch is nearly fit (Adam's first steps move every
    weight by about lr); ResNet-18 fits it monotonically.
    """
    torch.manual_seed(0)
    model = build_model(name, params, SMALL, 10).train()
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, *SMALL, generator=gen), torch.randint(0, 10, (2,), generator=gen)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):  # the loss before each step: losses[1:] follow 1, 2, 3 steps
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    assert all(math.isfinite(loss) for loss in losses)
    assert min(losses[1:]) < losses[0] - 0.01


def _projections(model: nn.Module) -> list[nn.Conv2d]:
    """The 1x1 convolutions on shortcut paths (the paper's W_s)."""
    return [
        m
        for name, m in model.named_modules()
        if ".shortcut" in name and isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
    ]


@pytest.mark.parametrize(
    ("name", "blocks", "projections"),
    [("resnet18", 8, 3), ("resnet34", 16, 3), ("resnet50", 16, 4)],
)
def test_projection_shortcut_only_where_shape_changes(
    name: str, blocks: int, projections: int
) -> None:
    for small_input in (False, True):
        with torch.device("meta"):
            model = build_model(name, {"small_input": small_input}, (3, 32, 32), 1000)
        network = model.network if isinstance(model, InputAdapter) else model
        shortcuts = [m.shortcut for m in network.modules() if hasattr(m, "shortcut")]
        assert len(shortcuts) == blocks
        assert len(_projections(network)) == projections
        identities = [s for s in shortcuts if isinstance(s, nn.Identity)]
        assert len(identities) == blocks - projections
        # Each projection is the first block of its stage: stride 2 except the bottleneck's
        # stage 1, where only the channel count changes (64 -> 256).
        strides = [conv.stride for conv in _projections(network)]
        expected = [(2, 2)] * 3 if name != "resnet50" else [(1, 1)] + [(2, 2)] * 3
        assert strides == expected


def test_resnet_stems() -> None:
    small = build_model("resnet18", {}, SMALL, 10).network
    assert not any(isinstance(m, nn.MaxPool2d) for m in small.stem.modules())
    assert small.stem[0][0].kernel_size == (3, 3) and small.stem[0][0].stride == (1, 1)
    reference = _reference_model("resnet18")
    assert any(isinstance(m, nn.MaxPool2d) for m in reference.stem.modules())
    assert reference.stem[0][0].kernel_size == (7, 7) and reference.stem[0][0].stride == (2, 2)


def test_resnet_block_is_g_of_z_plus_a() -> None:
    """a^[l+2] = g(z^[l+2] + a^[l]): with the main path zeroed, the block is g(a^[l])."""
    block = build_model("resnet18", {}, SMALL, 10).network.stages[0][0].eval()
    nn.init.zeros_(block.layer2[1].weight)  # BN gamma = 0 -> z^[l+2] = beta = 0
    a = torch.randn(2, 64, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(block(a), torch.relu(a))


def test_unknown_variant_is_rejected() -> None:
    with pytest.raises(ValueError, match="resnet18"):
        build_resnet(ResNetParams(), (3, 32, 32), 10, variant="resnet101")


def test_export_resnet18_with_dynamic_batch() -> None:
    """What MLflow does: export (adapter included) with a batch-2 example, run batch 3."""
    model = build_model("resnet18", {"dropout": 0.2}, SMALL, 10).eval()
    assert_exports_with_dynamic_batch(model, SMALL)
