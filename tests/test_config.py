"""params.yaml validation: every mistake stops before any work, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from traindev.cli import main
from traindev.config import ParamsError
from traindev.params_file import load_params, validate_params


def test_default_params_file_is_valid(default_params):
    params = validate_params(default_params)
    assert params.train.architectures == ["logistic_regression", "deep_nn", "lenet5"]
    assert params.split.target_domain == params.ingest.domain


def test_unknown_key_names_the_key_and_the_nearest_valid_one(default_params):
    default_params["train"]["learning_rate"] = 0.1
    with pytest.raises(ParamsError, match=r"train\.learning_rate: unknown key"):
        validate_params(default_params)
    default_params["train"].pop("learning_rate")
    default_params["train"]["epoch"] = 3
    with pytest.raises(ParamsError, match=r"train\.epoch: unknown key \(did you mean 'epochs'\?\)"):
        validate_params(default_params)


def test_unknown_top_level_section_suggests_the_nearest(default_params):
    default_params["evaluation"] = {}
    with pytest.raises(ParamsError, match=r"evaluation: unknown key \(did you mean 'evaluate'\?\)"):
        validate_params(default_params)


def test_unknown_nested_key_in_a_model_section(default_params):
    default_params["models"]["deep_nn"]["hidden_size"] = [3]
    with pytest.raises(ParamsError, match=r"models\.deep_nn\.hidden_size.*'hidden_sizes'"):
        validate_params(default_params)


def test_wrong_type_names_the_key(default_params):
    default_params["train"]["epochs"] = "ten"
    with pytest.raises(ParamsError, match=r"train\.epochs: .*integer.*'ten'"):
        validate_params(default_params)


def test_out_of_range_value_names_the_key(default_params):
    default_params["train"]["lr"] = -0.1
    with pytest.raises(ParamsError, match=r"train\.lr: .*greater than 0"):
        validate_params(default_params)
    default_params["train"]["lr"] = 0.1
    default_params["models"]["deep_nn"]["dropout"] = 1.5
    with pytest.raises(ParamsError, match=r"models\.deep_nn\.dropout: .*less than 1"):
        validate_params(default_params)


def test_unknown_architecture_lists_the_valid_ones(default_params):
    default_params["train"]["architectures"] = ["deep_nn", "lenet"]
    with pytest.raises(ParamsError) as error:
        validate_params(default_params)
    message = str(error.value)
    assert "train.architectures" in message
    assert "unknown architecture 'lenet'" in message
    assert "did you mean 'lenet5'" in message
    assert "valid architectures: alexnet, deep_nn," in message
    assert all(name in message for name in ("resnet50", "efficientnet_b7", "lstm"))


def test_architecture_without_a_models_section(default_params):
    del default_params["models"]["lenet5"]
    with pytest.raises(
        ParamsError,
        match=r"models\.lenet5: missing; add `lenet5: \{activation: tanh, pooling: avg, "
        r"dropout: 0\.0\}` under `models:`",
    ):
        validate_params(default_params)


def test_eval_fractions_that_leave_no_room(default_params):
    default_params["split"].update(dev=0.6, test=0.5)
    with pytest.raises(ParamsError, match=r"split: .*dev \+ test fractions must be below 1"):
        validate_params(default_params)


def test_missing_section_is_reported(default_params):
    del default_params["split"]
    with pytest.raises(ParamsError, match=r"split: missing; add `split: \{seed: 0, "):
        validate_params(default_params)


def test_missing_or_malformed_file(tmp_path: Path):
    with pytest.raises(ParamsError, match="params file not found"):
        load_params(tmp_path / "absent.yaml")
    broken = tmp_path / "params.yaml"
    broken.write_text("train: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(broken)


def test_cli_stops_before_writing_anything(tmp_path: Path, default_params, monkeypatch, capsys):
    default_params["split"]["seed"] = "zero"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(default_params))
    monkeypatch.chdir(tmp_path)
    assert main(["ingest"]) == 2
    assert "split.seed" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_cli_rejects_an_arch_that_params_do_not_list(
    tmp_path: Path, default_params, monkeypatch, capsys
):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(default_params))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--arch", "resnet"]) == 2
    assert "--arch 'resnet' is not in train.architectures" in capsys.readouterr().err


def test_target_domain_typo_is_caught_before_any_stage_runs(default_params):
    default_params["split"]["target_domain"] = "handwriten"
    with pytest.raises(
        ParamsError,
        match=r"split.target_domain: 'handwriten' is not produced.*"
        r"did you mean 'handwritten'",
    ):
        validate_params(default_params)


def test_label_names_must_be_usable_as_metric_names(default_params):
    default_params["train"]["multilabel"] = ["stop sign"]
    with pytest.raises(ParamsError, match=r"train\.multilabel.*may use only letters"):
        validate_params(default_params)


def test_old_train_tasks_key_names_its_new_name(default_params):
    default_params["train"]["tasks"] = default_params["train"].pop("multilabel")
    with pytest.raises(ParamsError, match=r"train\.tasks: renamed train\.multilabel"):
        validate_params(default_params)


def test_new_training_knobs_are_validated_with_their_dotted_keys(default_params):
    default_params["train"]["schedule"]["name"] = "linear"
    with pytest.raises(ParamsError, match=r"train\.schedule\.name"):
        validate_params(default_params)


def test_a_deleted_line_is_an_error_naming_the_key_and_the_line_to_add(
    tmp_path: Path, default_params
):
    del default_params["train"]["epochs"]
    del default_params["train"]["schedule"]["warmup_epochs"]
    del default_params["models"]["deep_nn"]["batch_norm"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(default_params))
    with pytest.raises(ParamsError) as error:
        load_params(tmp_path / "params.yaml")
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'params.yaml'}: invalid params")
    assert "train.epochs: missing; add `epochs: 15` under `train:`" in message
    assert "train.schedule.warmup_epochs: missing; add `warmup_epochs: 0.0` under" in message
    assert "models.deep_nn.batch_norm: missing; add `batch_norm: true` under" in message
    assert "docs/reference/params.md describes each" in message


def test_a_missing_key_is_reported_with_the_other_mistakes(default_params):
    del default_params["train"]["epochs"]
    default_params["train"]["epoch"] = 3
    with pytest.raises(ParamsError) as error:
        validate_params(default_params)
    assert "train.epoch: unknown key (did you mean 'epochs'?)" in str(error.value)
    assert "train.epochs: missing; add `epochs: 15`" in str(error.value)


def test_cli_check_refuses_an_incomplete_file(tmp_path: Path, default_params, monkeypatch, capsys):
    del default_params["ingest"]["workers"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(default_params))
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 2
    assert "ingest.workers: missing; add `workers: auto` under `ingest:`" in capsys.readouterr().err
