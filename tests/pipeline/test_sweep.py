"""The sweep flow for real: 4 trials as DVC experiments, nested MLflow runs, the rule's pick."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator

import pytest
from helpers.dvc_project import Project
from mlflow.tracking import MlflowClient

from pipeline.sweep import (
    Trial,
    check_configs,
    run_sweep,
    set_dotted,
    summarize,
    thread_caps,
    trials_for,
)
from traindev.config import ParamsError, SweepParams
from traindev.records import read_record, write_record
from traindev.records.sweep import SweepSummary
from traindev.selection import Candidate, Threshold, select_model


def test_a_space_key_that_params_yaml_lacks_is_refused_before_any_trial(default_params):
    trials = trials_for("s", "coarse", [{"train.learning_rate": 0.1}])
    with pytest.raises(ParamsError, match=r"sweep.space.train.learning_rate: .*no key"):
        check_configs(default_params, trials)
    trials = trials_for("s", "coarse", [{"train.lr": -1.0}])
    with pytest.raises(
        ParamsError, match=r"(?s)s-c01 invalid params: .*train\.lr: Input should be"
    ):
        check_configs(default_params, trials)


def test_the_sweep_summary_is_a_record_that_reads_back(tmp_path):
    def trial(name: str, error: float, latency: float) -> Candidate:
        metrics = {"dev.error": error, "latency_ms": latency, "parameters": 10.0}
        return Candidate(f"deep_nn@{name}", f"run-{name}", "sweep trial", None, metrics)

    candidates = [trial("s-c01", 0.05, 500.0), trial("s-c02", 0.08, 2.0)]
    selection = select_model(candidates, "dev.error", "minimize", [Threshold("latency_ms", 100)])
    trials = [
        Trial("s-c01", "coarse", {"train.lr": 0.1}),
        Trial("s-c02", "coarse", {"train.lr": 0.01}),
    ]
    path = tmp_path / "s.json"
    write_record(path, summarize("s", "parent", selection, trials, [], []))
    summary = read_record(path, SweepSummary)
    assert summary.winner.trial == "s-c02" and summary.winner.config == {"train.lr": 0.01}
    assert (summary.winner.optimizing, summary.winner.value) == ("dev.error", 0.08)
    assert summary.selection.candidates[1].failed == ["latency_ms > 100"]
    assert summary.selection.candidates[1].measured["latency_ms"] == 500.0  # the run record


def test_set_dotted_reaches_nested_model_params(default_params):
    set_dotted(default_params, "models.deep_nn.hidden_sizes", [8])
    assert default_params["models"]["deep_nn"]["hidden_sizes"] == [8]


def test_parallel_trials_share_the_cores_instead_of_each_taking_all(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)), raising=False)
    assert thread_caps(SweepParams(parallelism=2)) == {
        "OMP_NUM_THREADS": "4",
        "MKL_NUM_THREADS": "4",
    }
    assert thread_caps(SweepParams(parallelism=3))["OMP_NUM_THREADS"] == "2"
    assert thread_caps(SweepParams(parallelism=16))["OMP_NUM_THREADS"] == "1"
    # a remote Dask cluster's machines are not this one; a cap the user set is theirs
    assert thread_caps(SweepParams(parallelism=2, dask_address="tcp://10.0.0.5:8786")) == {}
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert thread_caps(SweepParams(parallelism=2)) == {}


@pytest.fixture(scope="module")
def sweep_project(reproduced_project, tmp_path_factory) -> Project:
    """A copy of the reproduced project with one architecture and a space to search."""
    project = Project(tmp_path_factory.mktemp("sweep") / "p", reproduced_project.first_repro)
    shutil.copytree(reproduced_project.root, project.root, symlinks=True)
    project.set_param("train", "architectures", ["logistic_regression"])
    project.set_param(
        "sweep",
        "space",
        {
            "train.lr": {"scale": "log", "low": 1.0e-3, "high": 1.0e-1},
            "train.beta1": {"scale": "one_minus_log", "low": 0.8, "high": 0.99},
        },
    )
    project.commit("sweep the learning rate")
    return project


@pytest.mark.e2e
def test_a_four_trial_sweep_runs_experiments_nests_runs_and_picks_the_best(
    sweep_project, prefect_server
):
    project = sweep_project
    summary = run_sweep(
        str(project.root),
        name="t",
        overrides={"trials": 2, "fine_trials": 2, "fine_from_best": 1, "parallelism": 2},
    )

    names = {"t-c01", "t-c02", "t-f01", "t-f02"}
    assert {trial["name"] for trial in summary["trials"]} == names
    assert summary["failed"] == []
    shown = json.loads(project.dvc("exp", "show", "--json").stdout)
    listed = {
        rev.get("name")
        for commit in shown
        for exp in (commit.get("experiments") or [])
        for rev in exp.get("revs", [])
    }
    assert names <= listed

    client = MlflowClient(f"sqlite:///{project.root / 'mlflow.db'}")
    parent = client.get_run(summary["mlflow_run_id"])
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    by_trial = {run.data.tags["traindev.trial"]: run for run in children}
    assert set(by_trial) == names
    errors = {run.info.run_id: run.data.metrics["final.dev.error"] for run in children}
    # the lowest dev error wins; a tie is broken by the rule (fewer parameters, name, run id)
    assert errors[summary["winner"]["run_id"]] == min(errors.values())
    assert parent.data.tags["traindev.winner_run_id"] == summary["winner"]["run_id"]
    fine = [t["config"]["train.lr"] for t in summary["trials"] if t["round"] == "fine"]
    winner_lr = by_trial[summary["trials"][0]["name"]].data.params["train.lr"]
    assert all(1.0e-3 <= lr <= 1.0e-1 for lr in fine) and winner_lr
    assert (project.root / "reports/sweeps/t.json").is_file()


# Dask's LocalCluster exports these into the process that starts it and never restores them;
# left set, every later subprocess of the session (a `dvc repro`'s training) would run on one
# OpenMP thread and round differently from a run on two (measured: a fresh clone's weights then
# differed from the first reproduction's).
DASK_EXPORTS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MALLOC_TRIM_THRESHOLD_",
)


@pytest.fixture
def dask_exports_restored() -> Iterator[None]:
    """Put DASK_EXPORTS back as they were (monkeypatch.delenv of an unset name records no undo)."""
    saved = {name: os.environ.get(name) for name in DASK_EXPORTS}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.mark.e2e
def test_trials_run_on_a_dask_local_cluster(sweep_project, prefect_server, dask_exports_restored):
    summary = run_sweep(
        str(sweep_project.root),
        name="d",
        overrides={"trials": 2, "fine_trials": 0, "parallelism": 2, "task_runner": "dask"},
    )
    assert {trial["name"] for trial in summary["trials"]} == {"d-c01", "d-c02"}
    assert summary["failed"] == [] and summary["winner"]["trial"] in {"d-c01", "d-c02"}
