"""Models to choose among: this pipeline run's architectures and earlier MLflow runs.

Both sources speak one metric name space, the names evaluate logs to MLflow without their
"final." prefix ("dev.error", "dev.class_error.8", "latency_ms") plus the train stage's
measurements ("parameters", "flops_per_example"), so a threshold written once in params.yaml
applies to a model whatever it was read from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlflow.exceptions import MlflowException

from traindev.records.metrics import MetricsRecord
from traindev.records.runs import Latency, TrainingRun
from traindev.records.training import TrainingRecord
from traindev.tracking import SPLIT_TAG, flatten, logged_multilabel, run_started

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

Source = Literal["this run", "earlier run", "sweep trial"]

# The prefix evaluate puts on everything it measures once training is over.
FINAL_PREFIX = "final."
# Logged by the train stage under these names (no prefix); parameters and FLOPs are also in
# training.json, wall time and throughput in its run record.
TRAINING_METRICS = ("parameters", "flops_per_example", "train_seconds", "examples_per_second")
# The tag that names the split a run was trained and scored on.
DEV_ERROR = f"{FINAL_PREFIX}dev.error"


@dataclass(frozen=True)
class Candidate:
    """One trained model and what was measured of it, in selection metric names."""

    name: str
    run_id: str | None
    source: Source
    started: str | None  # ISO 8601 start time of the MLflow run, when known
    metrics: Mapping[str, float] = field(default_factory=dict)


def selection_metrics(logged: Mapping[str, Any]) -> dict[str, float]:
    """MLflow metric names -> selection names: the one place the two name spaces meet.

    "final.<name>" becomes "<name>"; the train stage's measurements keep their names;
    per-epoch curves (dev_error, loss, ...) and gaps are dropped, so "dev_error" of the
    last epoch can never be mistaken for evaluate's "dev.error". Missing (NaN), infinite
    and non-numeric values are dropped: a metric that is absent reads as "not measured".
    """
    selected: dict[str, float] = {}
    for key, value in logged.items():
        if key.startswith(FINAL_PREFIX):
            name = key.removeprefix(FINAL_PREFIX)
        elif key in TRAINING_METRICS:
            name = key
        else:
            continue
        number = _number(value)
        if number is not None:
            selected[name] = number
    return selected


def candidate_from_files(
    architecture: str,
    metrics: MetricsRecord,
    training: TrainingRecord,
    run: TrainingRun | None = None,
    latency: Latency | None = None,
) -> Candidate:
    """A candidate from its metrics and training records, the run record of its training
    (wall time, throughput, MLflow run id; absent for models trained elsewhere) and the
    latency `traindev select` measured.

    The figures are first spelled the way evaluate, train and select log them to MLflow,
    then go through `selection_metrics`, so both sources share a single mapping.
    """
    splits = {name: split.model_dump(exclude_none=True) for name, split in metrics.splits.items()}
    logged: dict[str, Any] = {
        f"{FINAL_PREFIX}{name}": value for name, value in flatten(splits).items()
    }
    if latency is not None:
        logged[f"{FINAL_PREFIX}latency_ms"] = latency.latency_ms
    logged |= training.size_metrics()
    if run is not None:
        logged |= {
            "train_seconds": run.train_seconds,
            "examples_per_second": run.examples_per_second,
        }
    return Candidate(
        name=architecture,
        run_id=None if run is None else run.run_id,
        source="this run",
        started=None,
        metrics=selection_metrics(logged),
    )


def earlier_candidates(
    client: MlflowClient,
    experiment_id: str,
    split_md5: str,
    exclude_run_ids: Iterable[str] = (),
    max_runs: int = 200,
) -> list[Candidate]:
    """Finished, evaluated runs trained on the same split, newest first, one per configuration.

    Only runs tagged with the same split manifest hash count: a dev error measured on
    another dev set is not comparable (a different dev set is a different target), so
    the winner must be picked on one dev set. Runs without "final.dev.error" never
    finished evaluation. `exclude_run_ids` are this pipeline run's own models, which come
    from files instead.
    """
    if not split_md5 or "'" in split_md5:
        raise ValueError(f"split_md5 must be a non-empty hash without quotes, got {split_md5!r}")
    if max_runs < 1:
        raise ValueError(f"max_runs must be >= 1, got {max_runs}")
    excluded = set(exclude_run_ids)
    query = (
        f"attributes.status = 'FINISHED' and tags.`{SPLIT_TAG}` = '{split_md5}' "
        f"and metrics.`{DEV_ERROR}` >= 0"
    )
    runs = client.search_runs(
        [experiment_id],
        filter_string=query,
        max_results=max_runs + len(excluded),
        order_by=["attributes.start_time DESC"],
    )
    # Re-running an unchanged configuration (a fresh clone, `dvc repro -f`) logs a new run of
    # the same model; only the newest run of each configuration competes, and a
    # configuration this pipeline run has just trained is represented by the current model.
    current = [client.get_run(run_id) for run_id in excluded if _exists(client, run_id)]
    seen = {_configuration(run) for run in current}
    # A multi-label model's pooled error and a softmax model's error measure different things.
    labels = {str(logged_multilabel(run.data.params)) for run in current}
    kept = []
    for run in runs:
        configuration = _configuration(run)
        if run.info.run_id in excluded or configuration in seen:
            continue
        if labels and str(logged_multilabel(run.data.params)) not in labels:
            continue
        seen.add(configuration)
        kept.append(run)
    return [candidate_from_run(run) for run in kept[:max_runs]]


def _configuration(run: Run) -> tuple:
    """What determines the model: the architecture and every logged param."""
    return (run.data.tags.get("architecture"), tuple(sorted(run.data.params.items())))


def _exists(client: MlflowClient, run_id: str) -> bool:
    try:
        client.get_run(run_id)
    except MlflowException:
        return False
    return True


def candidate_from_run(
    run: Run, name: str | None = None, source: Source = "earlier run"
) -> Candidate:
    """A candidate measured by an MLflow run (its final.* metrics and training figures)."""
    run_id = run.info.run_id
    architecture = run.data.tags.get("architecture") or run.info.run_name or "model"
    return Candidate(
        name=name or f"{architecture}@{run_id[:8]}",
        run_id=run_id,
        source=source,
        started=run_started(run),
        metrics=selection_metrics(run.data.metrics),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
