"""Name -> architecture: its hyperparameter schema, native input size and builder.

Other stages ask for a model by the name in params.yaml; the schemas live in params.py (kept
torch-free), the builders here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from traindev.models.deep_network import build_deep_network
from traindev.models.input_adapter import InputAdapter
from traindev.models.lenet import NATIVE_INPUT as LENET_NATIVE_INPUT
from traindev.models.lenet import build_lenet5
from traindev.models.params import (
    ARCHITECTURE_PARAMS,
    ArchitectureParams,
    DeepNetworkParams,
    LeNet5Params,
)

Builder = Callable[[ArchitectureParams, tuple[int, int, int], int], nn.Module]


@dataclass(frozen=True)
class Architecture:
    """One architecture of the notes.

    ``native_input`` is the (H, W) it is defined at (None: any size); ``build`` takes
    (params, (C, H, W) of the data, num_classes) and returns the bare network, which expects
    ``native_input`` when that is set. ``build_model`` adds the resizing adapter.
    """

    name: str
    params_schema: type[ArchitectureParams]
    native_input: tuple[int, int] | None
    convolutional: bool
    build: Builder


ARCHITECTURES: dict[str, Architecture] = {
    "deep_nn": Architecture(
        name="deep_nn",
        params_schema=DeepNetworkParams,
        native_input=None,
        convolutional=False,
        build=build_deep_network,
    ),
    "lenet5": Architecture(
        name="lenet5",
        params_schema=LeNet5Params,
        native_input=LENET_NATIVE_INPUT,
        convolutional=True,
        build=build_lenet5,
    ),
}

if ARCHITECTURES.keys() != ARCHITECTURE_PARAMS.keys():  # pragma: no cover - import-time guard
    raise RuntimeError(
        f"registry and params.py disagree: {sorted(ARCHITECTURES)} vs {sorted(ARCHITECTURE_PARAMS)}"
    )
for _name, _arch in ARCHITECTURES.items():
    if _arch.params_schema is not ARCHITECTURE_PARAMS[_name]:  # pragma: no cover
        raise RuntimeError(f"{_name}: schema differs from params.ARCHITECTURE_PARAMS")


def available_architectures() -> list[str]:
    """Names accepted by ``get_architecture`` / ``build_model``, sorted."""
    return sorted(ARCHITECTURES)


def get_architecture(name: str) -> Architecture:
    """Look an architecture up; an unknown name is a config error, so list the valid ones."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        valid = ", ".join(available_architectures())
        raise ValueError(f"unknown architecture {name!r}; valid names: {valid}") from None


def _validate_params(
    arch: Architecture, params: ArchitectureParams | dict[str, Any]
) -> ArchitectureParams:
    if isinstance(params, dict):
        return arch.params_schema.model_validate(params)
    if not isinstance(params, arch.params_schema):
        raise TypeError(
            f"{arch.name} expects {arch.params_schema.__name__}, got {type(params).__name__}"
        )
    return params


def build_model(
    name: str,
    params: ArchitectureParams | dict[str, Any],
    input_shape: tuple[int, int, int],
    num_classes: int,
) -> nn.Module:
    """Build a model that takes float32 NCHW at the data's (C, H, W) and returns logits.

    When the architecture is defined at another (H, W) the network is wrapped in an
    ``InputAdapter`` that resizes inside the model, so the saved model is self-contained.
    """
    arch = get_architecture(name)
    if len(input_shape) != 3 or any(int(d) < 1 for d in input_shape):
        raise ValueError(f"input_shape must be a positive (C, H, W), got {input_shape}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    shape = (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
    network = arch.build(_validate_params(arch, params), shape, int(num_classes))
    if arch.native_input is not None and shape[1:] != arch.native_input:
        return InputAdapter(network, arch.native_input)
    return network


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (the figure the notes quote per architecture)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
