"""Register the selected model and point an alias ("champion") at it.

Serving code loads "models:/<name>@champion", so promoting a model is moving one alias,
and rolling back is moving it back. Selection runs on every pipeline run; registering the
same run again would pile up identical versions, so a version of that run is reused.
"""

from __future__ import annotations

import json
import re

from mlflow.entities import LoggedModel, LoggedModelStatus
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

from traindev.selection.rules import Selection

# The train stage logs every model under this name (a pyfunc, traindev.serving.log_model).
MODEL_NAME = "model"
TAG_PREFIX = "traindev."
# MLflow rejects longer tag values on some stores; explanations are cut to fit.
MAX_TAG_CHARS = 5000
_RUN_ID = re.compile(r"[0-9A-Za-z_-]+")


def set_champion(
    client: MlflowClient,
    run_id: str,
    registered_model: str,
    alias: str,
    selection: Selection | None = None,
) -> ModelVersion:
    """Register `run_id`'s model under `registered_model` (once) and set `alias` to it.

    In MLflow 3 the model logged by the run is a LoggedModel; its version is registered
    from "models:/<model_id>" (runs:/<id>/model only resolves through the fluent client,
    which ignores `client`). With `selection`, the version is tagged with how it was chosen.
    """
    if not _RUN_ID.fullmatch(run_id or ""):
        raise ValueError(f"run_id must be an MLflow run id, got {run_id!r}")
    tags = selection_tags(selection, run_id) if selection is not None else {}
    source, model_id = _model_source(client, run_id)
    _ensure_registered_model(client, registered_model)
    version = _existing_version(client, registered_model, run_id)
    if version is None:
        version = client.create_model_version(
            name=registered_model, source=source, run_id=run_id, model_id=model_id
        )
        if model_id is not None:
            _link_logged_model(client, model_id, version)
    for key, value in tags.items():
        client.set_model_version_tag(registered_model, version.version, key, value)
    client.set_registered_model_alias(registered_model, alias, version.version)
    return client.get_model_version(registered_model, version.version)


def selection_tags(selection: Selection, run_id: str) -> dict[str, str]:
    """How the winner was chosen, as model version tags ("traindev.optimizing": "dev.error")."""
    winner = selection.winner
    if winner is None or winner.run_id != run_id:
        chosen = winner.run_id if winner else "no winner"
        raise ValueError(
            f"the selection's winner is {chosen}, not run {run_id}; promote the winner's "
            "run or pass the selection that chose this run"
        )
    satisficing = "; ".join(threshold.describe() for threshold in selection.thresholds)
    return {
        f"{TAG_PREFIX}optimizing": selection.optimizing,
        f"{TAG_PREFIX}goal": selection.goal,
        f"{TAG_PREFIX}value": repr(winner.value),
        f"{TAG_PREFIX}satisficing": satisficing or "none",
        f"{TAG_PREFIX}candidate": winner.name,
        f"{TAG_PREFIX}explanation": selection.explanation[:MAX_TAG_CHARS],
    }


def _model_source(client: MlflowClient, run_id: str) -> tuple[str, str | None]:
    """The URI to register from, and the LoggedModel id when the run logged one."""
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise ValueError(
            f"run {run_id} is not in the tracking store {client.tracking_uri}: "
            "set MLFLOW_TRACKING_URI to the store that trained it"
        ) from exc
    logged = _logged_model(client, run.info.experiment_id, run_id)
    if logged is not None:
        return logged.model_uri, logged.model_id
    # Runs logged before MLflow 3 keep the model among the run's artifacts.
    if any(
        item.path == f"{MODEL_NAME}/MLmodel" for item in client.list_artifacts(run_id, MODEL_NAME)
    ):
        return f"{run.info.artifact_uri}/{MODEL_NAME}", None
    raise ValueError(
        f"run {run_id} has no logged model named {MODEL_NAME!r}; the train stage logs it "
        "(traindev.serving.log_model): re-run `traindev train` for this architecture"
    )


def _logged_model(client: MlflowClient, experiment_id: str, run_id: str) -> LoggedModel | None:
    """The newest finished model the run logged under MODEL_NAME."""
    models = client.search_logged_models(
        [experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = '{MODEL_NAME}'",
    )
    ready = [model for model in models if model.status == LoggedModelStatus.READY]
    return max(ready, key=lambda model: model.creation_timestamp, default=None)


def _ensure_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise


def _existing_version(client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    """The newest ready version of `name` registered from this run, if any."""
    versions = [
        version
        for version in client.search_model_versions(f"run_id = '{run_id}'")
        if version.name == name and version.status == "READY"
    ]
    return max(versions, key=lambda version: int(version.version), default=None)


def _link_logged_model(client: MlflowClient, model_id: str, version: ModelVersion) -> None:
    """Show the version on the logged model's page, as mlflow.register_model does."""
    model = client.get_logged_model(model_id)
    linked = json.loads(model.tags.get(MLFLOW_MODEL_VERSIONS) or "[]")
    linked.append({"name": version.name, "version": version.version})
    client.set_logged_model_tags(model_id, {MLFLOW_MODEL_VERSIONS: json.dumps(linked)})
