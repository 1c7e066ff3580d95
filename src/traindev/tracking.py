"""MLflow conventions: where runs go, how they are named and tagged.

One run per trained architecture (experiment `traindev`). The train stage opens it;
evaluate and report add to the same run through the run id the train stage
writes next to its checkpoint.
"""

from __future__ import annotations

import ast
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from traindev.data.store import MANIFEST_FILE

EXPERIMENT = "traindev"


def split_hash_tag(file_name: str) -> str:
    """The run tag holding the MD5 of one file of the split the model was trained on."""
    return f"data.split.{file_name}.md5"


# Runs with the same value were scored on the same dev set, so their dev errors compare.
SPLIT_TAG = split_hash_tag(MANIFEST_FILE)
# DVC's hash of the split directory, as dvc.lock records it; also the digest of the run's
# MLflow datasets.
SPLIT_DVC_TAG = "data.split.dvc_md5"


def run_started(run: Run) -> str | None:
    """When the run started, as an ISO time in UTC (what reports and selections show)."""
    if not run.info.start_time:
        return None
    started = datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC)
    return started.isoformat(timespec="seconds")


def project_root() -> Path:
    """The git work tree the stage runs in, else the working directory."""
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
        ).stdout.strip()
        return Path(top)
    except (OSError, subprocess.CalledProcessError):
        return Path.cwd()


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set (a server, say), else SQLite at the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"


def configure() -> str:
    """Point MLflow at the project's store and experiment; returns the experiment id."""
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        mlflow.set_experiment(experiment_id=experiment.experiment_id)
        return experiment.experiment_id
    artifact_location = None
    if uri.startswith("sqlite:"):
        artifact_location = (project_root() / "mlruns").resolve().as_uri()
    experiment_id = mlflow.create_experiment(
        EXPERIMENT, artifact_location=artifact_location, tags=experiment_tags()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


# How the MLflow UI presents the experiment. MLflow 3 opens a new experiment on its GenAI
# overview unless it is marked as model training ("Machine learning" in the UI's selector).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"
NOTE_TAG = "mlflow.note.content"  # an experiment's or a run's description in the UI
EXPERIMENT_NOTE = (
    "One run per trained architecture (`traindev train`), completed by `traindev evaluate` and"
    " `traindev select`.\n\n"
    "- `final.<split>.error`: the error on train, train_dev, dev and test; `gap.<name>`: the"
    " chapter-3 gaps between consecutive rows (avoidable bias, variance, data mismatch,"
    " overfitting to dev). `make ui` opens the runs with them as columns, best dev error first.\n"
    "- Datasets: the splits the run saw; the digest is DVC's hash of `data/split` (as in"
    " `dvc.lock`), so runs with the same digest were scored on the same data.\n"
    "- A run's description holds its bias / variance table and diagnosis."
)


def experiment_tags() -> dict[str, str]:
    """What the experiment is created with: its kind (model training) and description."""
    return {EXPERIMENT_KIND_TAG: MODEL_TRAINING, NOTE_TAG: EXPERIMENT_NOTE}


def set_experiment_tags(experiment_id: str, tags: Mapping[str, str]) -> None:
    """Bring an existing experiment (created before a tag existed) up to date."""
    client = MlflowClient()
    for key, value in tags.items():
        client.set_experiment_tag(experiment_id, key, value)


def run_note(rows: Mapping[str, float], gaps: Mapping[str, float], diagnosis: str) -> str:
    """A run's description: its five-row table and gaps as Markdown, then the diagnosis."""
    lines = ["| row | error |", "| --- | --- |"]
    lines += [f"| {name} | {value:.2%} |" for name, value in rows.items()]
    lines += ["", "| gap | value |", "| --- | --- |"]
    lines += [f"| {name} | {value:+.2%} |" for name, value in gaps.items()]
    return "\n".join([*lines, "", diagnosis])


def git_state() -> dict[str, str]:
    """Commit and whether the tree had uncommitted changes when the run started."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "HEAD") or "unknown"
    dirty = "true" if git("status", "--porcelain", "--untracked-files=no") else "false"
    return {"git.commit": commit, "git.dirty": dirty}


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"lr": 0.1}} -> {"train.lr": 0.1}; lists become their string form."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


@contextmanager
def open_run(run_id: str | None = None, **start_kwargs: Any) -> Iterator[mlflow.ActiveRun]:
    """Start a new run, or reopen `run_id` when it exists in this tracking store.

    A run id from a checkpoint restored out of the DVC cache on another machine may not
    exist here; then a new run is started and tagged with the id it stands in for.
    """
    configure()
    if run_id and _run_exists(run_id):
        with mlflow.start_run(run_id=run_id) as run:
            yield run
        return
    tags = dict(start_kwargs.pop("tags", {}) or {}) | sweep_tags()
    if run_id:
        tags["traindev.continues_run"] = run_id
    with mlflow.start_run(tags=tags, **start_kwargs) as run:
        yield run


# Set by the sweep flow for the stages of one trial: their runs nest under the sweep's run.
PARENT_RUN_ENV = "TRAINDEV_PARENT_RUN_ID"
TRIAL_ENV = "TRAINDEV_TRIAL"
TRIAL_TAG = "traindev.trial"  # the trial a model run belongs to


def sweep_tags() -> dict[str, str]:
    """MLflow's parent tag (the UI nests the run under it) and the trial's name, if any."""
    tags = {}
    if parent := os.environ.get(PARENT_RUN_ENV):
        tags["mlflow.parentRunId"] = parent
    if trial := os.environ.get(TRIAL_ENV):
        tags[TRIAL_TAG] = trial
    return tags


def _run_exists(run_id: str) -> bool:
    try:
        MlflowClient().get_run(run_id)
        return True
    except mlflow.exceptions.MlflowException:
        return False


def logged_multilabel(run_params: Mapping[str, str]) -> list[str] | None:
    """The `train.multilabel` an MLflow run was trained with ([] when it predates the param).

    MLflow stores params as text (str() of the list); None when it cannot be read back.
    """
    text = run_params.get("train.multilabel", run_params.get("train.tasks"))  # its old name
    if text is None:
        return []
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return [str(label) for label in value] if isinstance(value, list | tuple) else None
