"""`make ui`: a lean MLflow server, and an experiment the UI opens on its training runs."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import mlflow
import pytest
from helpers.repository import PROJECT_ROOT
from mlflow.tracking import MlflowClient

from traindev import tracking, ui
from traindev.stages.evaluate import _TABLE_METRICS


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # outside any git tree: artifacts under tmp_path
    yield uri
    mlflow.set_tracking_uri(None)


def test_make_ui_runs_traindev_ui():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    recipe = makefile.split("\nui:", 1)[1].splitlines()[1]
    assert recipe.strip().startswith("traindev ui")


def test_new_experiment_is_marked_as_model_training(store):
    experiment_id = tracking.configure()
    tags = MlflowClient().get_experiment(experiment_id).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    assert "final.<split>.error" in tags["mlflow.note.content"]


def test_ui_tags_an_existing_experiment_and_starts_mlflow_without_job_workers(
    store, monkeypatch, capsys
):
    mlflow.set_tracking_uri(store)
    old = mlflow.create_experiment(tracking.EXPERIMENT)  # made before the tags existed
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "true")
    started = {}
    monkeypatch.setattr(ui.os, "execve", lambda path, argv, env: started.update(argv=argv, env=env))

    ui.run("127.0.0.1", 5123)

    assert started["env"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    argv = started["argv"]
    assert argv[1:4] == ["-m", "mlflow", "ui"]
    assert argv[argv.index("--backend-store-uri") + 1] == store
    assert argv[argv.index("--workers") + 1] == "1"
    tags = MlflowClient().get_experiment(old).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    address = urlsplit(capsys.readouterr().out.split()[-1])
    assert address.fragment.startswith(f"/experiments/{old}/runs?")
    query = parse_qs(address.fragment.split("?", 1)[1])
    assert query == {"workflowType": ["machine_learning"], "viewStateShareKey": [ui.VIEW_ID]}
    view = json.loads(tags[f"mlflow.sharedViewState.{query['viewStateShareKey'][0]}"])
    state = json.loads(view["state"])
    assert state["orderByKey"] == "metrics.`final.dev.error`" and state["orderByAsc"] is True
    shown = [column for column in state["selectedColumns"] if column.startswith("metrics.")]
    assert shown == [f"metrics.`{name}`" for name in ui.key_metrics()]


def test_the_view_shows_metrics_evaluate_logs():
    logged = set(_TABLE_METRICS.values())
    assert {"final.dev.error", "final.test.error", "gap.data_mismatch"} <= set(ui.key_metrics())
    assert set(ui.key_metrics()) <= logged
