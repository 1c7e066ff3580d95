"""Name -> architecture: its hyperparameter schema and where its builder lives.

Builders are imported lazily (only the architectures a run trains are imported), and
each takes (params, (C, H, W) at the architecture's native size, num_classes) plus,
for families with several members, `variant=<name>`. `build_model` adds the input
adapter that resizes the data to the architecture's native size.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from torch import nn

from traindev.models.input_adapter import InputAdapter
from traindev.models.params import ARCHITECTURE_PARAMS, ArchitectureParams


@dataclass(frozen=True)
class Architecture:
    """One architecture of the notes: `module:builder` under traindev.models."""

    name: str
    module: str
    builder: str
    convolutional: bool
    variant: bool = False  # the builder serves several names and takes variant=<name>

    @property
    def params_schema(self) -> type[ArchitectureParams]:
        return ARCHITECTURE_PARAMS[self.name]

    def native_input(self, params: ArchitectureParams) -> tuple[int, int] | None:
        return params.native_input(self.name)

    def build(
        self, params: ArchitectureParams, input_shape: tuple[int, int, int], num_classes: int
    ) -> nn.Module:
        """The bare network at its native input size."""
        builder = getattr(importlib.import_module(f"traindev.models.{self.module}"), self.builder)
        extra = {"variant": self.name} if self.variant else {}
        return builder(params, input_shape, num_classes, **extra)


def _family(names: list[str], module: str, builder: str, convolutional: bool = True) -> dict:
    return {name: Architecture(name, module, builder, convolutional, True) for name in names}


ARCHITECTURES: dict[str, Architecture] = {
    "logistic_regression": Architecture(
        "logistic_regression", "linear", "build_logistic_regression", False
    ),
    "shallow_nn": Architecture("shallow_nn", "linear", "build_shallow_network", False),
    "deep_nn": Architecture("deep_nn", "deep_network", "build_deep_network", False),
    "lenet5": Architecture("lenet5", "lenet", "build_lenet5", True),
    "alexnet": Architecture("alexnet", "alexnet", "build_alexnet", True),
    "vgg16": Architecture("vgg16", "vgg", "build_vgg16", True),
    **_family(["resnet18", "resnet34", "resnet50"], "resnet", "build_resnet"),
    "googlenet": Architecture("googlenet", "inception", "build_googlenet", True),
    **_family(["mobilenet_v1", "mobilenet_v2"], "mobilenet", "build_mobilenet"),
    **_family([f"efficientnet_b{i}" for i in range(8)], "efficientnet", "build_efficientnet"),
    **_family(["rnn", "gru", "lstm"], "sequence", "build_sequence_classifier", False),
}

if ARCHITECTURES.keys() != ARCHITECTURE_PARAMS.keys():  # pragma: no cover - import-time guard
    raise RuntimeError(
        f"registry and params.py disagree: {sorted(ARCHITECTURES)} vs {sorted(ARCHITECTURE_PARAMS)}"
    )


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


def validate_params(name: str, params: ArchitectureParams | dict[str, Any]) -> ArchitectureParams:
    """The one place params are checked against the architecture's schema; builders trust it."""
    arch = get_architecture(name)
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
    channels, height, width = (int(d) for d in input_shape)
    params = validate_params(name, params)
    native = arch.native_input(params)
    network = arch.build(params, (channels, *(native or (height, width))), int(num_classes))
    if native is not None and (height, width) != native:
        return InputAdapter(network, native)
    return network


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (the figure the notes quote per architecture)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
