"""A user's own image folder through ingest, split (no synthetic domain) and training."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from helpers.ingest_inputs import make_folder
from helpers.repository import PROJECT_ROOT

from traindev.config import ParamsError
from traindev.data.store import read_store
from traindev.params_file import validate_params
from traindev.stages import ingest, split, synthesize, train


def user_params(root) -> dict:
    params = copy.deepcopy(yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text()))
    params["ingest"].update(
        source="folder", root=str(root), image_size=[12, 12], channels=3, workers=1
    )
    params["synthesize"]["count"] = 0
    params["split"].update(target_domain="phone", dev=0.25, test=0.25, train_dev=0.1)
    params["train"].update(architectures=["logistic_regression"], epochs=1, batch_size=16)
    params["train"]["checkpoint"]["enabled"] = False
    return params


def test_an_image_folder_trains_with_synthesis_off(tmp_path, monkeypatch, mlflow_store):
    photos = make_folder(
        tmp_path / "photos",
        {"phone": {"cat": 20, "dog": 20}, "web": {"cat": 30, "dog": 30}},
    )
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    params = validate_params(user_params(photos))

    ingest.run(params.ingest)
    assert "no synthetic images" in synthesize.run(params.synthesize)
    split.run(params)

    store = read_store(project / "data/split")
    assert store.pixels.shape[1:] == (12, 12, 3) and store.pixel_max == 255
    assert store.classes == ["cat", "dog"]  # the empty synthetic store adds no digit classes
    assert set(store.manifest["origin"]) == {"real"}
    evaluated = store.manifest[store.manifest["split"].isin(["dev", "test"])]
    assert set(evaluated["domain"]) == {"phone"}
    assert set(store.manifest.loc[store.manifest["split"] == "train", "domain"]) == {"phone", "web"}

    message = train.run(params, "logistic_regression")
    assert "trained logistic_regression" in message
    training = json.loads((project / "data/models/logistic_regression/training.json").read_text())
    assert training["parameters"] == 12 * 12 * 3 * 2 + 2  # a 12x12 RGB input, two classes
    assert 0.0 <= training["history"][-1]["dev_error"] <= 1.0


def test_a_target_domain_outside_the_declared_domains_is_a_params_error(tmp_path):
    params = user_params(tmp_path)
    params["ingest"]["domains"] = ["phone", "web"]
    params["split"]["target_domain"] = "phones"
    with pytest.raises(ParamsError, match=r"split.target_domain: 'phones' .*did you mean 'phone'"):
        validate_params(params)
    params["split"]["target_domain"] = "phone"
    params["synthesize"].update(count=100, domain="web")
    with pytest.raises(ParamsError, match=r"synthesize.domain 'web' is also a real domain"):
        validate_params(params)
