"""Per-architecture training budgets: train.overrides.<arch> replaces the shared epochs, lr
and batch_size for that architecture only, validated by the shared keys' own rules."""

from __future__ import annotations

import json

import pytest
from helpers.training_project import make_training_dir, run_training

from traindev import paths
from traindev.config import ParamsError
from traindev.params_file import validate_params


def params_with(default_params, overrides):
    default_params["train"]["overrides"] = overrides
    return validate_params(default_params)


def test_an_override_changes_only_that_architectures_resolved_train_params(default_params):
    params = params_with(default_params, {"lenet5": {"epochs": 40, "lr": 0.01}})
    lenet, deep = params.train.for_architecture("lenet5"), params.train.for_architecture("deep_nn")
    assert (lenet.epochs, lenet.lr, lenet.batch_size) == (40, 0.01, params.train.batch_size)
    assert deep.model_dump() == params.train.model_dump() | {"overrides": {}}
    shared = params.train.model_dump()
    changed = {
        key
        for key, value in lenet.model_dump().items()
        if key != "overrides" and shared[key] != value
    }
    assert changed == {"epochs", "lr"}


def test_the_default_params_resolve_every_architecture_to_the_shared_values(default_params):
    params = validate_params(default_params)
    assert params.train.overrides == {}
    for name in params.train.architectures:
        assert params.train.for_architecture(name).model_dump() == params.train.model_dump()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lenet": {"epochs": 3}}, "train.overrides: unknown architecture 'lenet' (did you mean"),
        ({"lenet5": {"epoch": 3}}, "train.overrides.lenet5.epoch: unknown key (did you mean"),
        ({"lenet5": {"epochs": 0}}, "overrides.lenet5.epochs: Input should be greater than"),
        ({"lenet5": {"lr": -1.0}}, "overrides.lenet5.lr: Input should be greater than 0"),
        ({"lenet5": {"batch_size": 0}}, "overrides.lenet5.batch_size: must be a number"),
    ],
)
def test_a_bad_override_is_a_params_error_naming_it(default_params, overrides, message):
    with pytest.raises(ParamsError) as caught:
        params_with(default_params, overrides)
    assert message in str(caught.value)


def test_the_train_stage_trains_with_its_architectures_override(tmp_path):
    root = make_training_dir(
        tmp_path, 140, {"epochs": 3, "batch_size": 16, "overrides": {"deep_nn": {"epochs": 1}}}
    )
    result = run_training(root)
    history = json.loads((root / paths.model_dir("deep_nn") / "training.json").read_text())
    assert len(history["history"]) == 1
    assert "epoch 1/1: loss" in result.stderr  # the per-epoch line, from a real subprocess
