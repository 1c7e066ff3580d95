"""The model `traindev train` logs: a pyfunc over raw stored images, with the splits it saw.

A checkpoint is logged as the train stage logs it, into a real SQLite store; the champion
alias is set as `traindev select` sets it, and the model is loaded by that alias in a fresh
Python process, as a user would, and fed images straight from the split store. That the train
stage itself logs them is checked on the reproduced project (tests/test_pipeline_e2e.py).
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import mlflow
import numpy as np
import pytest
import torch
from helpers.dvc_project import project_environment
from helpers.repository import PROJECT_ROOT
from helpers.training_project import digit_like_split
from mlflow.tracking import MlflowClient

from traindev import paths
from traindev.data.dvc_hash import directory_md5
from traindev.data.store import read_store, write_store
from traindev.evaluation.predict import predict_probabilities
from traindev.models.registry import build_model
from traindev.params_file import load_params
from traindev.selection import set_champion
from traindev.serving import log_model
from traindev.tracking_datasets import log_split_datasets
from traindev.training.checkpoint import Checkpoint, save_checkpoint

MODEL = "traindev-classification-t"

# What a user runs: load by alias, predict on images exactly as the store holds them.
USER_SCRIPT = """
import json, sys
import mlflow, numpy as np
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
images = np.load(sys.argv[3])[:7]
out = model.predict(images)
photo = (images.astype("uint16") * 16).clip(0, 255).astype("uint8")
errors = {}
for name, bad in {"float": images / 16, "one_image": images[0], "photo_scale": photo}.items():
    try:
        model.predict(bad)
    except Exception as exc:
        errors[name] = str(exc)
print(json.dumps({"columns": list(out.columns), "rows": out.to_dict("records"),
                  "errors": errors, "module": type(model.unwrap_python_model().module).__name__}))
"""


@dataclass(frozen=True)
class Logged:
    root: Path
    uri: str
    run_id: str
    checkpoint: Checkpoint


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> Iterator[Logged]:
    """A split store, a deep_nn checkpoint of it and a run that logged both as the train
    stage does (traindev.serving, traindev.tracking_datasets), on a real SQLite store."""
    root = tmp_path_factory.mktemp("serving")
    manifest, pixels = digit_like_split(140)
    write_store(root / paths.SPLIT, manifest, pixels, [str(c) for c in range(10)], 16)
    torch.manual_seed(0)
    params = load_params(PROJECT_ROOT / "params.yaml").model_params("deep_nn").model_dump()
    model = build_model("deep_nn", params, (1, 8, 8), 10)
    checkpoint = Checkpoint(
        "deep_nn", params, (1, 8, 8), [str(c) for c in range(10)], 16, model.state_dict()
    )
    save_checkpoint(root / paths.CHECKPOINT_FILE, checkpoint)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.create_experiment(
            "traindev", artifact_location=(root / "mlruns").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment) as run:
            log_model(root / paths.CHECKPOINT_FILE, checkpoint)
            log_split_datasets(read_store(root / paths.SPLIT), directory_md5(root / paths.SPLIT))
        yield Logged(root, uri, run.info.run_id, checkpoint)
    finally:
        mlflow.set_tracking_uri(None)


def test_champion_loads_in_a_fresh_process_and_predicts_raw_stored_images(logged):
    set_champion(MlflowClient(), logged.run_id, MODEL, "champion")
    pixels = logged.root / paths.SPLIT / "pixels.npy"
    result = subprocess.run(
        [sys.executable, "-c", USER_SCRIPT, logged.uri, f"models:/{MODEL}@champion", str(pixels)],
        cwd=logged.root,
        env=project_environment(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    classes = [str(c) for c in range(10)]
    assert answer["columns"] == ["label", "probability", *[f"proba_{c}" for c in classes]]
    # The same probabilities as the evaluate stage computes from the checkpoint.
    checkpoint = logged.checkpoint
    store = read_store(logged.root / paths.SPLIT)
    expected = predict_probabilities(
        checkpoint.build(), store, torch.device("cpu"), 64, np.arange(7)
    )
    got = np.array([[row[f"proba_{c}"] for c in classes] for row in answer["rows"]])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [row["label"] for row in answer["rows"]] == [classes[i] for i in expected.argmax(1)]
    assert answer["module"] == type(checkpoint.build()).__name__
    errors = answer["errors"]
    assert set(errors) == {"float", "one_image", "photo_scale"}
    assert "uint8" in errors["float"] and "float" in errors["float"]
    assert "(8, 8, 1)" in errors["one_image"]
    assert "0..16" in errors["photo_scale"]


def test_logged_model_signature_says_uint8_images_in_names_and_probabilities_out(logged):
    model = mlflow.models.get_model_info(f"runs:/{logged.run_id}/model")
    (inputs,) = model.signature.inputs.to_dict()
    assert inputs["tensor-spec"]["dtype"] == "uint8"
    assert list(inputs["tensor-spec"]["shape"]) == [-1, 8, 8, 1]
    outputs = {column["name"]: column["type"] for column in model.signature.outputs.to_dict()}
    assert outputs["label"] == "string" and outputs["proba_9"] == "float"
    assert "python_function" in model.flavors and "pytorch" not in model.flavors


def test_run_inputs_are_the_four_splits_with_dvcs_hash_as_digest(logged):
    run = MlflowClient().get_run(logged.run_id)
    inputs = run.inputs.dataset_inputs
    digest = directory_md5(logged.root / paths.SPLIT)
    contexts = {
        tag.value for found in inputs for tag in found.tags if tag.key == "mlflow.data.context"
    }
    assert contexts == {"train", "train_dev", "dev", "test"}
    assert {found.dataset.name for found in inputs} == contexts
    assert {found.dataset.digest for found in inputs} == {digest}
    dev = next(found.dataset for found in inputs if found.dataset.name == "dev")
    assert json.loads(dev.profile)["num_rows"] == 20


def test_two_runs_on_the_same_split_share_one_dataset_per_split(logged):
    split = logged.root / paths.SPLIT
    other = logged.root / "other_split"  # another split store: another digest
    manifest, pixels = digit_like_split(70, seed=1)
    write_store(other, manifest, pixels, [str(c) for c in range(10)], 16)
    experiment = MlflowClient().get_run(logged.run_id).info.experiment_id
    for store in (split, other):
        with mlflow.start_run(experiment_id=experiment):
            log_split_datasets(read_store(store), directory_md5(store))
    runs = MlflowClient().search_runs([experiment])
    seen = {
        (found.dataset.name, found.dataset.digest)
        for run in runs
        for found in run.inputs.dataset_inputs
    }
    assert len(runs) == 3
    assert seen == {
        (name, directory_md5(store))
        for name in ("train", "train_dev", "dev", "test")
        for store in (split, other)
    }


def test_directory_md5_is_the_hash_dvc_records(tmp_path):
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "a.npy").write_bytes(np.arange(50, dtype=np.uint8).tobytes())
    (tmp_path / "out" / "sub" / "b.json").write_text('{"x": 1}\n')
    (tmp_path / "out" / "Z.txt").write_text("upper case sorts first\n")
    fs = LocalFileSystem()
    odb = HashFileDB(fs, str(tmp_path / "cache"))
    _, _, tree = build(odb, str(tmp_path / "out"), fs, "md5")
    assert directory_md5(tmp_path / "out") == tree.hash_info.value


def test_logging_pins_requirements_without_scanning_every_installed_package(tmp_path):
    """MLflow's pin check maps all installed distributions (about 1 s per train stage); the
    pins come from this environment, so logging skips it and still writes them."""
    checkpoint_file = tmp_path / paths.CHECKPOINT_FILE
    model = build_model("logistic_regression", {}, (1, 8, 8), 10)
    checkpoint = Checkpoint(
        "logistic_regression", {}, (1, 8, 8), [str(c) for c in range(10)], 16, model.state_dict()
    )
    save_checkpoint(checkpoint_file, checkpoint)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("t", artifact_location=(tmp_path / "a").as_uri())
        scan = "mlflow.utils.requirements_utils.importlib_metadata.packages_distributions"
        with (
            mock.patch(scan, side_effect=AssertionError("scanned")) as scanned,
            mlflow.start_run(experiment_id=experiment) as run,
        ):
            log_model(checkpoint_file, checkpoint)
        assert not scanned.called
        model_uri = f"runs:/{run.info.run_id}/model"
        pins = Path(mlflow.pyfunc.get_model_dependencies(model_uri)).read_text().split()
    finally:
        mlflow.set_tracking_uri(None)
    torch_version = importlib.metadata.version("torch").split("+")[0]
    assert f"torch=={torch_version}" in pins
    assert any(pin.startswith("mlflow==") for pin in pins)
