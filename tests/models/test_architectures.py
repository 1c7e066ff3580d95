"""Shape, size, trainability and exportability of every registered architecture."""

from __future__ import annotations

import math

import pytest
import torch
from helpers.model_checks import assert_exports_with_dynamic_batch, loss_before_and_after_adam
from torch import nn

from traindev.models.input_adapter import InputAdapter
from traindev.models.params import ARCHITECTURE_PARAMS, DeepNetworkParams, LeNet5Params
from traindev.models.registry import (
    ARCHITECTURES,
    available_architectures,
    build_model,
    count_parameters,
    get_architecture,
)

ALL_NAMES = available_architectures()
NAMES = ["deep_nn", "lenet5"]  # the families in this file; others have their own test module
SMALL = (1, 8, 8)


def _native_shape(name: str, channels: int = 1) -> tuple[int, int, int]:
    arch = get_architecture(name)
    native = arch.native_input(arch.params_schema()) or (8, 8)
    return (channels, *native)


def test_registry_matches_params_schemas() -> None:
    assert set(ARCHITECTURES) == set(ARCHITECTURE_PARAMS)
    assert sorted(ARCHITECTURE_PARAMS) == ALL_NAMES
    for name, arch in ARCHITECTURES.items():
        assert arch.name == name
        assert arch.params_schema is ARCHITECTURE_PARAMS[name]


def test_unknown_architecture_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="resnet18") as excinfo:
        get_architecture("resnet")
    for name in ALL_NAMES:
        assert name in str(excinfo.value)
    with pytest.raises(ValueError, match="lenet5"):
        build_model("resnet", {}, SMALL, 10)


def test_wrong_params_type_is_rejected() -> None:
    with pytest.raises(TypeError):
        build_model("lenet5", DeepNetworkParams(), SMALL, 10)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("where", ["small", "native"])
def test_output_shape(name: str, where: str) -> None:
    shape = SMALL if where == "small" else _native_shape(name)
    model = build_model(name, {}, shape, 10).eval()
    with torch.no_grad():
        out = model(torch.rand(4, *shape))
    assert out.shape == (4, 10)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_adapter_only_when_sizes_differ() -> None:
    adapted = build_model("lenet5", {}, SMALL, 10)
    assert isinstance(adapted, InputAdapter)
    assert adapted.native_input == (32, 32)
    assert isinstance(adapted.network, nn.Module)
    assert not isinstance(build_model("lenet5", {}, (1, 32, 32), 10), InputAdapter)
    assert not isinstance(build_model("deep_nn", {}, (1, 32, 32), 10), InputAdapter)


def test_lenet_uses_data_channels() -> None:
    model = build_model("lenet5", {}, (3, 28, 28), 5).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 28, 28)).shape == (2, 5)


def test_lenet5_parameter_count_is_the_published_figure() -> None:
    for params in (LeNet5Params(), LeNet5Params(pooling="max", activation="relu", dropout=0.2)):
        assert count_parameters(build_model("lenet5", params, (1, 32, 32), 10)) == 61_706
    # The adapter adds no parameters.
    assert count_parameters(build_model("lenet5", {}, SMALL, 10)) == 61_706


@pytest.mark.parametrize("batch_norm", [False, True])
def test_deep_nn_parameter_count(batch_norm: bool) -> None:
    params = DeepNetworkParams(hidden_sizes=[256, 128], batch_norm=batch_norm)
    expected = 64 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    if batch_norm:
        expected += 2 * 256 + 2 * 128  # gamma and beta per hidden unit
    assert count_parameters(build_model("deep_nn", params, SMALL, 10)) == expected


def _fixed_batch(shape: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(16, *shape, generator=gen), torch.randint(0, 10, (16,), generator=gen)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("deep_nn", {}),
        ("deep_nn", {"batch_norm": True, "dropout": 0.1, "activation": "tanh", "init": "xavier"}),
        ("lenet5", {}),
        ("lenet5", {"pooling": "max", "activation": "relu"}),
    ],
)
def test_adam_steps_lower_the_loss(name: str, params: dict[str, object]) -> None:
    torch.manual_seed(0)
    model = build_model(name, params, SMALL, 10)
    x, y = _fixed_batch(SMALL)
    before, after = loss_before_and_after_adam(model, x, y, steps=20, lr=1e-2)
    assert after < before


@pytest.mark.parametrize("name", NAMES)
def test_eval_forward_is_deterministic(name: str) -> None:
    params = {"dropout": 0.5, "batch_norm": True} if name == "deep_nn" else {"dropout": 0.5}
    model = build_model(name, params, SMALL, 10).eval()
    x = torch.rand(4, *SMALL)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize(("init", "gain"), [("he", 2.0), ("xavier", 1.0)])
def test_init_std_matches_the_notes(init: str, gain: float) -> None:
    torch.manual_seed(0)
    n_in = 32 * 32
    model = build_model("deep_nn", {"hidden_sizes": [1024], "init": init}, (1, 32, 32), 10)
    layer = model.hidden[0]
    assert isinstance(layer, nn.Linear) and layer.in_features == n_in
    assert layer.weight.std().item() == pytest.approx(math.sqrt(gain / n_in), rel=0.02)
    assert layer.weight.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert torch.count_nonzero(layer.bias) == 0


def test_leaky_relu_slope() -> None:
    model = build_model("deep_nn", {"activation": "leaky_relu", "batch_norm": False}, SMALL, 10)
    act = model.hidden[1]
    assert isinstance(act, nn.LeakyReLU) and act.negative_slope == 0.01


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("deep_nn", SMALL),
        ("lenet5", SMALL),  # wrapped in the InputAdapter
        ("lenet5", (3, 32, 32)),  # bare network at its native size
    ],
)
def test_export_with_dynamic_batch(name: str, shape: tuple[int, int, int]) -> None:
    """What MLflow does: export with a batch-2 example, then run other batch sizes."""
    params = {"batch_norm": True, "dropout": 0.2} if name == "deep_nn" else {"dropout": 0.2}
    model = build_model(name, params, shape, 10).eval()
    assert_exports_with_dynamic_batch(model, shape, batches=(5, 1))
