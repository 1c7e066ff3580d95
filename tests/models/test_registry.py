"""Every name in the registry resolves to a builder and validates from params.yaml."""

from __future__ import annotations

import importlib

import pytest

from traindev.models.params import ARCHITECTURE_PARAMS
from traindev.models.registry import ARCHITECTURES, available_architectures, get_architecture
from traindev.params_file import validate_params


@pytest.mark.parametrize("name", available_architectures())
def test_builder_exists_and_defaults_validate(name: str):
    arch = get_architecture(name)
    module = importlib.import_module(f"traindev.models.{arch.module}")
    assert callable(getattr(module, arch.builder))
    native = arch.native_input(arch.params_schema())
    assert native is None or all(side >= 8 for side in native)


def test_every_architecture_can_be_listed_in_params(default_params):
    default_params["train"]["architectures"] = available_architectures()
    assert set(default_params["models"]) == set(ARCHITECTURE_PARAMS)
    params = validate_params(default_params)
    assert params.train.architectures == available_architectures()
    assert len(ARCHITECTURES) == 23  # 4 + AlexNet, VGG + 3 ResNets + GoogLeNet + 2 + 8 + 3


def test_reference_configuration_has_the_paper_input_size():
    resnet = get_architecture("resnet50")
    assert resnet.native_input(resnet.params_schema(small_input=False)) == (224, 224)
    assert resnet.native_input(resnet.params_schema()) == (32, 32)
    b7 = get_architecture("efficientnet_b7")
    assert b7.native_input(b7.params_schema(small_input=False)) == (600, 600)
    assert get_architecture("alexnet").native_input(
        get_architecture("alexnet").params_schema(small_input=False)
    ) == (227, 227)
