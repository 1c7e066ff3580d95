"""`traindev select`: one optimizing metric, satisficing thresholds, the `champion` alias.

Candidates are this run's architectures (read from their metric files, so DVC's view and the
selection agree) and, when `select.include_earlier_runs` is on, earlier MLflow runs trained on
the same split. The winner's model version gets the alias (models:/<name>@champion).
"""

from __future__ import annotations

import json

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from traindev import paths, tracking
from traindev.atomic import write_json
from traindev.config import Params
from traindev.data.store import MANIFEST_FILE, file_md5
from traindev.selection.candidates import Candidate, candidate_from_files, earlier_candidates
from traindev.selection.champion import set_champion
from traindev.selection.rules import Selection, select_from_params


def run(params: Params) -> str:
    select = params.select
    current = [_current_candidate(name) for name in params.train.architectures]
    candidates = list(current)
    experiment_id = tracking.configure()
    client = MlflowClient()
    if select.include_earlier_runs:
        split_md5 = file_md5(paths.SPLIT / MANIFEST_FILE)
        exclude = {c.run_id for c in current if c.run_id}
        candidates += earlier_candidates(client, experiment_id, split_md5, exclude)
    selection = select_from_params(candidates, select)
    champion, note = _crown(client, selection, select.registered_model, select.alias)
    record = selection.as_dict()
    record["candidates"] = record.pop("rows")
    record |= {"champion": champion, "champion_note": note}
    write_json(paths.SELECTION_FILE, record)
    _log_to_mlflow(current, selection)
    return selection.explanation + (f" {note}" if note else "")


def _current_candidate(architecture: str) -> Candidate:
    metrics_path = paths.metrics_file(architecture)
    training_path = paths.model_dir(architecture) / paths.TRAINING_FILE
    for path in (metrics_path, training_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; run `dvc repro` to train and evaluate")
    return candidate_from_files(
        architecture, json.loads(metrics_path.read_text()), json.loads(training_path.read_text())
    )


def _crown(
    client: MlflowClient, selection: Selection, registered_model: str, alias: str
) -> tuple[dict | None, str]:
    """Point the alias at the winner; say why not when it cannot."""
    winner = selection.winner
    if winner is None:
        return None, "No champion: no candidate meets every satisficing threshold."
    if not winner.run_id:
        return None, f"No champion: {winner.name} has no MLflow run id."
    try:
        version = set_champion(client, winner.run_id, registered_model, alias, selection)
    except (MlflowException, ValueError) as exc:
        reason = str(exc).splitlines()[0]
        return None, f"No champion in {tracking.tracking_uri()}: {reason}"
    return {
        "registered_model": registered_model,
        "alias": alias,
        "version": str(version.version),
        "uri": f"models:/{registered_model}@{alias}",
    }, ""


def _log_to_mlflow(current: list[Candidate], selection: Selection) -> None:
    """The selection record in each of this run's MLflow runs, so the UI shows who won."""
    winner = "none" if selection.winner is None else selection.winner.name
    for candidate in current:
        if not candidate.run_id:
            continue
        with tracking.open_run(candidate.run_id, run_name=candidate.name):
            mlflow.log_artifact(str(paths.SELECTION_FILE), "selection")
            mlflow.set_tag("selection.winner", winner)
