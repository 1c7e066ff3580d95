"""`traindev select`: one optimizing metric, satisficing thresholds, the `champion` alias.

The alias lives on the registered model of this problem (`Params.registered_model`, e.g.
`traindev-classification-handwritten`), so another target domain or task has its own champion.

Two records, because only one of them is a function of the stage's inputs:
- reports/selection.json (committed to git): the choice among this pipeline's
  architectures, read from their metrics and training records, on the thresholds that measure
  the model (parameters, FLOPs, errors), with the stable facts only (which thresholds each
  missed, its rank, the explanation), so a fresh clone's `dvc repro` writes it byte for byte
  and a busy machine cannot flip it; thresholds on the machine (latency) are named there and
  applied only in the run record;
- reports/runs/selection.json (untracked, also logged to MLflow): the same choice widened to
  earlier MLflow runs on the same split (`select.include_earlier_runs`), with run ids, the
  measured latency and the model version the alias now points at.
Latency is measured once, by `traindev evaluate` (evaluation.latency says how), and read from
its run record here, as sweeps and earlier runs read it from MLflow; the winner of the wider
choice gets the alias.
"""

from __future__ import annotations

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from traindev import paths, tracking
from traindev.config import Params, SelectParams
from traindev.data.store import MANIFEST_FILE, file_md5
from traindev.records import read_record, write_record
from traindev.records.metrics import MetricsRecord
from traindev.records.runs import Champion, EvaluationRun, SelectionRun, TrainingRun
from traindev.records.selection import SelectionRecord
from traindev.records.training import TrainingRecord
from traindev.selection.candidates import Candidate, candidate_from_files, earlier_candidates
from traindev.selection.champion import set_champion
from traindev.selection.rules import (
    VOLATILE,
    Selection,
    Threshold,
    direction_warnings,
    is_volatile,
    select_from_params,
    select_model,
)


def run(params: Params) -> str:
    select = params.select
    current = [_current_candidate(name) for name in params.train.architectures]
    write_record(paths.SELECTION_FILE, tracked_record(current, select))

    candidates = list(current)
    experiment_id = tracking.configure()
    client = MlflowClient()
    if select.include_earlier_runs:
        split_md5 = file_md5(paths.SPLIT / MANIFEST_FILE)
        exclude = {c.run_id for c in current if c.run_id}
        candidates += earlier_candidates(client, experiment_id, split_md5, exclude)
    selection = select_from_params(candidates, select)
    champion, note = _crown(client, selection, params.registered_model(), select.alias)
    record = selection.as_dict()
    record["candidates"] = record.pop("rows")
    record |= {"champion": champion, "champion_note": note}
    write_record(paths.SELECTION_RUN, SelectionRun.model_validate(record))
    _log_to_mlflow(current, selection)
    return selection.explanation + (f" {note}" if note else "")


def tracked_record(candidates: list[Candidate], select: SelectParams) -> SelectionRecord:
    """The git-tracked view of a choice among this run's architectures: only the thresholds
    on what the model is (a VOLATILE one is listed as a run-time threshold, not applied), no
    run ids, no start times, no figure of a VOLATILE metric."""
    thresholds = [Threshold.from_params(threshold) for threshold in select.satisficing]
    stable = [threshold for threshold in thresholds if not is_volatile(threshold.metric)]
    deferred = [threshold for threshold in thresholds if is_volatile(threshold.metric)]
    selection = select_model(candidates, select.optimizing, select.goal, stable)
    record = selection.as_dict()
    record["warnings"] = direction_warnings(select.optimizing, select.goal, thresholds)
    record["run_time_thresholds"] = [threshold.as_dict() for threshold in deferred]
    if deferred:
        record["explanation"] += (
            f" {' and '.join(threshold.describe() for threshold in deferred)} "
            f"{'measures' if len(deferred) == 1 else 'measure'} the machine under its load at "
            f"the time, not the model: checked on each run in {paths.SELECTION_RUN}, the "
            "choice that moves the registry alias."
        )
    record["candidates"] = record.pop("rows")
    for row in [*record["candidates"], *([record["winner"]] if record["winner"] else [])]:
        del row["run_id"], row["started"]
        row["measured"] = {
            name: value for name, value in row["measured"].items() if name not in VOLATILE
        }
    return SelectionRecord.model_validate(record)


def _current_candidate(architecture: str) -> Candidate:
    """From the DVC-tracked records and, where this machine ran the stages, the run records
    (run id, wall time, throughput, latency); without them those metrics are not measured."""
    training_run, evaluation_run = (
        paths.training_run_file(architecture),
        paths.evaluation_run_file(architecture),
    )
    evaluation = read_record(evaluation_run, EvaluationRun) if evaluation_run.is_file() else None
    return candidate_from_files(
        architecture,
        read_record(paths.metrics_file(architecture), MetricsRecord),
        read_record(paths.model_dir(architecture) / paths.TRAINING_FILE, TrainingRecord),
        read_record(training_run, TrainingRun) if training_run.is_file() else None,
        None if evaluation is None else evaluation.latency,
    )


def _crown(
    client: MlflowClient, selection: Selection, registered_model: str, alias: str
) -> tuple[Champion | None, str]:
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
    return Champion(
        registered_model=registered_model,
        alias=alias,
        version=str(version.version),
        uri=f"models:/{registered_model}@{alias}",
    ), ""


def _log_to_mlflow(current: list[Candidate], selection: Selection) -> None:
    """The selection run record in each of this run's MLflow runs, so the UI shows who won."""
    winner = "none" if selection.winner is None else selection.winner.name
    for candidate in current:
        if not candidate.run_id:
            continue
        with tracking.open_run(candidate.run_id, run_name=candidate.name):
            mlflow.log_artifact(str(paths.SELECTION_RUN), "selection")
            mlflow.set_tag("selection.winner", winner)
