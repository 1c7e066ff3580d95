"""Earlier MLflow runs as candidates and the `champion` alias, on a real SQLite store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import mlflow
import numpy as np
import pytest
import torch
from helpers.records import bias_variance
from helpers.records import training as training_record
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from traindev.records.metrics import MetricsRecord
from traindev.records.runs import Latency, TrainingRun
from traindev.selection import (
    Threshold,
    candidate_from_files,
    earlier_candidates,
    select_model,
    set_champion,
)
from traindev.tracking import flatten

SPLIT = "a" * 32
OTHER_SPLIT = "b" * 32
EXAMPLE = np.arange(6, dtype=np.float32).reshape(2, 3)
# What the train stage logs (parameters and FLOPs also in training.json, the rest in its run
# record).
MEASURED = {
    "parameters": 8.0,
    "flops_per_example": 12.0,
    "train_seconds": 1.5,
    "examples_per_second": 900.0,
}


def metrics_json(dev_error: float, latency_ms: float) -> dict:
    """What evaluate logs to MLflow (final.<split>.<metric>) and, before this project measured
    latency in `traindev select`, final.latency_ms."""
    dev = {
        "error": dev_error,
        "accuracy": 1 - dev_error,
        "f1": 1 - dev_error,
        "count": 440,
        "weighted_error": dev_error * 1.5,
        "class_error": {"3": 0.0, "8": dev_error * 4},
    }
    return {
        "splits": {"dev": dev, "test": {"error": dev_error + 0.01, "count": 444}},
        "inference": {"latency_ms": latency_ms, "device": "cpu"},
        "bias_variance": {"dev_error": dev_error},
    }


def metrics_record(metrics: dict) -> MetricsRecord:
    """The metrics record evaluate writes for `metrics_json` (latency is measured by select)."""
    dev_error = metrics["splits"]["dev"]["error"]
    return MetricsRecord(
        splits=metrics["splits"], bias_variance=bias_variance((0.01, 0.0, 0.0, dev_error, 0.0))
    )


@dataclass(frozen=True)
class Store:
    client: MlflowClient
    experiment_id: str
    run_ids: dict[str, str]
    files: dict[str, tuple[dict, dict]]  # architecture -> (metrics JSON, training JSON)
    models: dict[str, torch.nn.Module]


def seeded_linear(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Linear(3, 2)


def log_run(
    client: MlflowClient,
    experiment_id: str,
    architecture: str,
    split: str,
    metrics: dict | None,
    model: torch.nn.Module | None,
    status: str,
    started: int,
) -> str:
    """A run tagged and measured the way the train and evaluate stages do it."""
    run = client.create_run(
        experiment_id,
        start_time=started,
        tags={"architecture": architecture, "data.split.manifest.parquet.md5": split},
        run_name=architecture,
    )
    run_id = run.info.run_id
    values = {**MEASURED, "dev_error": 0.9, "loss": 0.1}  # plus epoch curves
    if metrics is not None:  # evaluate's names: final.<split>.<metric>, final.latency_ms
        values |= {f"final.{key}": value for key, value in flatten(metrics["splits"]).items()}
        values["final.latency_ms"] = metrics["inference"]["latency_ms"]
    stamp = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), stamp, 0) for k, v in values.items()])
    if model is not None:
        with mlflow.start_run(run_id=run_id):
            mlflow.pytorch.log_model(
                model, name="model", input_example=EXAMPLE, pip_requirements=["torch"]
            )
    client.set_terminated(run_id, status)
    return run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment_id = client.create_experiment(
            "traindev", artifact_location=(root / "mlruns").as_uri()
        )
        models = {name: seeded_linear(seed) for seed, name in enumerate(["lenet5", "deep_nn"])}
        files = {"lenet5": metrics_json(0.03, 0.5), "deep_nn": metrics_json(0.02, 2.0)}
        tiny_error = metrics_json(0.001, 0.1)  # best of all, but not comparable or not done
        specs = {
            "lenet5": ("lenet5", SPLIT, files["lenet5"], models["lenet5"], "FINISHED"),
            "deep_nn": ("deep_nn", SPLIT, files["deep_nn"], models["deep_nn"], "FINISHED"),
            "other_split": ("lenet5", OTHER_SPLIT, tiny_error, None, "FINISHED"),
            "unevaluated": ("lenet5", SPLIT, None, None, "FINISHED"),
            "failed": ("lenet5", SPLIT, tiny_error, None, "FAILED"),
        }
        run_ids = {  # one day apart, in this order
            key: log_run(client, experiment_id, *spec, started=day * 86_400_000)
            for day, (key, spec) in enumerate(specs.items(), start=1)
        }
        training = {
            name: {"architecture": name, "run_id": run_ids[name], "epochs": 3, **MEASURED}
            for name in files
        }
        yield Store(
            client,
            experiment_id,
            run_ids,
            {name: (files[name], training[name]) for name in files},
            models,
        )
    finally:
        mlflow.set_tracking_uri(None)


def test_earlier_candidates_are_finished_evaluated_runs_on_the_same_split_newest_first(store):
    found = earlier_candidates(store.client, store.experiment_id, SPLIT, set())

    assert [c.run_id for c in found] == [store.run_ids["deep_nn"], store.run_ids["lenet5"]]
    assert found[0].name == f"deep_nn@{store.run_ids['deep_nn'][:8]}"
    assert {c.source for c in found} == {"earlier run"}
    assert found[0].started == "1970-01-03T00:00:00+00:00"


def test_earlier_candidates_leave_out_this_pipeline_runs(store):
    found = earlier_candidates(store.client, store.experiment_id, SPLIT, {store.run_ids["deep_nn"]})
    assert [c.run_id for c in found] == [store.run_ids["lenet5"]]
    assert (
        earlier_candidates(store.client, store.experiment_id, SPLIT, set(), max_runs=1)[0].run_id
        == store.run_ids["deep_nn"]
    )


def test_mlflow_runs_and_files_give_the_same_metric_names_and_values(store):
    from_run = earlier_candidates(store.client, store.experiment_id, SPLIT, set())[1]
    metrics, training = store.files["lenet5"]
    from_files = candidate_from_files(
        "lenet5",
        metrics_record(metrics),
        training_record("lenet5", parameters=8).model_copy(update={"flops_per_example": 12}),
        TrainingRun(
            architecture="lenet5",
            run_id=training["run_id"],
            train_seconds=MEASURED["train_seconds"],
            examples_per_second=MEASURED["examples_per_second"],
            epoch_seconds=[0.5, 0.5, 0.5],
            resumed_from_epoch=None,
        ),
        Latency(
            latency_ms=metrics["inference"]["latency_ms"],
            quantile=0.1,
            median_ms=metrics["inference"]["latency_ms"],
            p90_ms=metrics["inference"]["latency_ms"],
            max_ms=metrics["inference"]["latency_ms"],
            repeats=200,
            warmup=20,
            threads=1,
            device="cpu",
        ),
    )

    assert from_run.metrics == from_files.metrics
    assert {"dev.error", "dev.class_error.8", "dev.weighted_error", "latency_ms"} <= set(
        from_run.metrics
    )
    assert "dev_error" not in from_run.metrics  # the last epoch's curve is not evaluate's


def champion_selection(store: Store):
    """deep_nn has the lower dev error but is too slow: lenet5 wins."""
    candidates = earlier_candidates(store.client, store.experiment_id, SPLIT, set())
    return select_model(candidates, "dev.error", "minimize", [Threshold("latency_ms", max=1.0)])


def test_set_champion_points_the_alias_at_the_winners_loadable_model(store):
    selection = champion_selection(store)
    assert selection.winner.run_id == store.run_ids["lenet5"]

    version = set_champion(store.client, selection.winner.run_id, "digits_a", "champion", selection)

    by_alias = store.client.get_model_version_by_alias("digits_a", "champion")
    assert by_alias.run_id == store.run_ids["lenet5"] == version.run_id
    assert by_alias.version == version.version
    assert version.tags["traindev.optimizing"] == "dev.error"
    assert version.tags["traindev.satisficing"] == "latency_ms <= 1"
    loaded = mlflow.pytorch.load_model("models:/digits_a@champion")
    with torch.no_grad():
        expected = store.models["lenet5"](torch.from_numpy(EXAMPLE))
        assert torch.allclose(loaded(torch.from_numpy(EXAMPLE)), expected)


def test_set_champion_again_for_the_same_run_reuses_its_version(store):
    run_id = store.run_ids["lenet5"]
    first = set_champion(store.client, run_id, "digits_b", "champion")
    again = set_champion(store.client, run_id, "digits_b", "champion")

    assert again.version == first.version
    assert len(store.client.search_model_versions("name = 'digits_b'")) == 1


def test_a_later_winner_moves_the_alias_to_a_new_version(store):
    old = set_champion(store.client, store.run_ids["lenet5"], "digits_c", "champion")
    new = set_champion(store.client, store.run_ids["deep_nn"], "digits_c", "champion")

    assert new.version != old.version
    by_alias = store.client.get_model_version_by_alias("digits_c", "champion")
    assert by_alias.run_id == store.run_ids["deep_nn"]
    assert "champion" not in store.client.get_model_version("digits_c", old.version).aliases


def test_set_champion_on_a_run_without_a_model_says_how_to_fix_it(store):
    with pytest.raises(ValueError, match=r"has no logged model named 'model'.*traindev train"):
        set_champion(store.client, store.run_ids["other_split"], "digits_d", "champion")


def test_set_champion_refuses_a_selection_that_chose_another_run(store):
    selection = champion_selection(store)
    with pytest.raises(ValueError, match=r"the selection's winner is .*, not run"):
        set_champion(store.client, store.run_ids["deep_nn"], "digits_e", "champion", selection)


def test_only_the_newest_run_of_each_configuration_competes(tmp_path):
    """A re-run of an unchanged configuration is the same model, not another candidate."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("traindev", (tmp_path / "mlruns").as_uri())

    def run(architecture: str, lr: str, started: int) -> str:
        run_id = log_run(
            client, experiment_id, architecture, SPLIT, metrics_json(0.05, 1.0), None,
            "FINISHED", started,
        )  # fmt: skip
        client.log_param(run_id, "train.lr", lr)
        return run_id

    old_repeat = run("lenet5", "0.001", 1_000)
    newest_repeat = run("lenet5", "0.001", 2_000)
    other_lr = run("lenet5", "0.01", 3_000)
    current = run("deep_nn", "0.001", 4_000)
    retrained_current = run("deep_nn", "0.001", 5_000)  # e.g. a fresh clone's first repro

    found = earlier_candidates(client, experiment_id, SPLIT, exclude_run_ids={retrained_current})
    assert [candidate.run_id for candidate in found] == [other_lr, newest_repeat]
    assert old_repeat not in {c.run_id for c in found} and current not in {c.run_id for c in found}
