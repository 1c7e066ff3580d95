"""`traindev evaluate --arch NAME`: every split scored, the bias / variance table, a diagnosis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.tracking import MlflowClient

from traindev import paths
from traindev.atomic import atomic_directory, atomic_file
from traindev.config import Params
from traindev.data.batches import sample_rows, to_model_input
from traindev.data.multilabel import multilabel_targets
from traindev.data.store import MANIFEST_FILE, SPLITS, ImageStore, file_md5, read_store
from traindev.evaluation.bootstrap import row_counts, table_intervals
from traindev.evaluation.diagnosis import (
    GAPS,
    BiasVarianceTable,
    Comparison,
    Diagnosis,
    compare_with_previous,
    diagnose,
)
from traindev.evaluation.domains import diagnose_domains, with_domain_reading
from traindev.evaluation.latency import measure_latency
from traindev.evaluation.multilabel import (
    THRESHOLD,
    evaluate_labels,
    predict_label_probabilities,
    prediction_columns,
)
from traindev.evaluation.plot_data import label_confusion_rows, learning_curve
from traindev.records import read_record, write_record
from traindev.records.diagnosis import DiagnosisRecord
from traindev.records.metrics import MetricsRecord
from traindev.records.runs import EvaluationRun, Latency, training_run_id
from traindev.records.scores import ScoresRecord
from traindev.records.training import TrainingRecord
from traindev.tasks.scoring import task_scorer
from traindev.tracking import (
    NOTE_TAG,
    SPLIT_TAG,
    configure,
    flatten,
    logged_multilabel,
    open_run,
    run_note,
    run_started,
)
from traindev.training.checkpoint import Checkpoint, load_checkpoint
from traindev.training.progress import PhaseLog
from traindev.training.runtime import select_device


def run(params: Params, architecture: str) -> str:
    evaluate = params.evaluate
    log = PhaseLog(f"evaluate {architecture}")
    store = read_store(paths.SPLIT)
    checkpoint = load_checkpoint(paths.model_dir(architecture) / paths.CHECKPOINT_FILE)
    if checkpoint.classes != store.classes:
        raise ValueError(
            f"{paths.model_dir(architecture)}: the model was trained on classes "
            f"{checkpoint.classes} but {paths.SPLIT} has {store.classes}; re-run `dvc repro`"
        )
    if checkpoint.binary_labels:
        return run_multilabel(params, architecture, store, checkpoint)
    device = select_device("auto")
    model = checkpoint.build()
    rows = scored_rows(store, evaluate.train_sample_size, evaluate.seed)
    log(f"predicting {len(rows)} examples on {device}")
    scores = task_scorer(params.task)(model, store, rows, evaluate, device, checkpoint=checkpoint)
    log("measuring latency")
    latency = measure_latency(model, example_input(store), device)
    split = scores.split
    per_split = scores.per_split
    table = BiasVarianceTable(
        human_level_error=evaluate.human_level_error,
        **{f"{name}_error": per_split[name].get("error", float("nan")) for name in SPLITS},
    )
    settings = evaluate.diagnosis
    log(f"bootstrap intervals ({settings.bootstrap_replicates} replicates)")
    intervals = table_intervals(
        {name: scores.wrong[split == name] for name in SPLITS},
        evaluate.human_level_error,
        settings.bootstrap_replicates,
        settings.confidence,
        settings.seed,
    )
    diagnosis = diagnose(table, settings, intervals, row_counts(split))
    domains = diagnose_domains(
        scores.wrong,
        split,
        store.manifest["domain"].to_numpy()[rows],
        evaluate.human_level_error,
        diagnosis,
        settings,
    )
    diagnosis = with_domain_reading(diagnosis, domains)
    run_id = training_run_id(architecture)
    training = read_record(paths.model_dir(architecture) / paths.TRAINING_FILE, TrainingRecord)
    previous = previous_run(architecture, run_id)
    comparison = (
        None if previous is None else compare_with_previous(table, intervals, previous.values)
    )
    record = DiagnosisRecord.model_validate(
        {
            **diagnosis.as_dict(),
            **scores.diagnosis_extra,
            "domains": None if domains is None else domains.as_dict(),
        }
    )

    log("writing outputs and logging to MLflow")
    _publish(
        architecture,
        Published(
            scores.predictions,
            scores.outputs,
            record,
            scores.confusion,
            scores.confusion_rows,
            scores.tables,
        ),
        MetricsRecord(splits=per_split, bias_variance=table.as_dict()),
        EvaluationRun(
            architecture=architecture,
            run_id=run_id,
            latency=latency,
            previous=_previous(previous, comparison),
        ),
        training,
    )
    _log_to_mlflow(architecture, run_id, per_split, table, diagnosis, latency, training)
    return f"evaluated {architecture}: {diagnosis.summary}"


def run_multilabel(
    params: Params, architecture: str, store: ImageStore, checkpoint: Checkpoint
) -> str:
    """A sigmoid per label, scored where labels are present; same files as the softmax path.

    reports/metrics/<arch>.json keeps `splits.<split>.error` (pooled over the labels
    present) and the bias / variance table, so `select` and the report read it
    like any other; per-label figures sit beside them (`label_error`, `label_count`, ...).
    confusion_dev.csv holds each label's 2x2 counts instead of a class-by-class matrix, and
    there is no per-class diagnosis and no error weighting (evaluate.error_weights).
    """
    evaluate = params.evaluate
    labels = list(checkpoint.binary_labels)
    device = select_device("auto")
    model = checkpoint.build()
    rows = scored_rows(store, evaluate.train_sample_size, evaluate.seed)
    targets = multilabel_targets(store, labels, rows)
    probabilities = predict_label_probabilities(model, store, device, evaluate.batch_size, rows)
    latency = measure_latency(model, example_input(store), device)
    manifest = store.manifest.iloc[rows]
    split = manifest["split"].to_numpy()
    result = evaluate_labels(
        targets, probabilities, split, labels, evaluate.human_level_error, evaluate.diagnosis
    )
    run_id = training_run_id(architecture)
    training = read_record(paths.model_dir(architecture) / paths.TRAINING_FILE, TrainingRecord)
    previous = previous_run(architecture, run_id, labels)
    comparison = (
        None
        if previous is None
        else compare_with_previous(result.table, result.intervals, previous.values)
    )
    predictions = pd.DataFrame(
        {
            "row": rows,
            "id": manifest["id"].to_numpy(),
            "split": split,
            "domain": manifest["domain"].to_numpy(),
            **prediction_columns(targets, probabilities, labels),
        }
    )
    record = DiagnosisRecord.model_validate(
        {
            **result.diagnosis.as_dict(),
            "binary_labels": labels,
            "per_class": [],
            "per_label": result.per_label,
        }
    )
    _publish(
        architecture,
        Published(
            predictions,
            probabilities,
            record,
            result.confusion_dev,
            label_confusion_rows(result.confusion_dev),
        ),
        MetricsRecord(
            splits=result.per_split,
            bias_variance=result.table.as_dict(),
            binary_labels=labels,
            label_threshold=THRESHOLD,
        ),
        EvaluationRun(
            architecture=architecture,
            run_id=run_id,
            latency=latency,
            previous=_previous(previous, comparison),
        ),
        training,
    )
    _log_to_mlflow(
        architecture, run_id, result.per_split, result.table, result.diagnosis, latency, training
    )
    weights = evaluate.error_weights
    ignored = (
        "; evaluate.error_weights is single-label only and was not applied"
        if weights.classes or weights.tags
        else ""
    )
    return f"evaluated {architecture} ({len(labels)} labels): {result.diagnosis.summary}{ignored}"


def scored_rows(store: ImageStore, train_sample_size: int, seed: int) -> np.ndarray:
    """Every held-out row, and a seeded sample of at most `train_sample_size` training rows.

    Train error only has to be precise enough to read avoidable bias and variance off the
    table; scoring millions of training images for it would dominate the stage.
    """
    split = store.manifest["split"].to_numpy()
    train = sample_rows(np.flatnonzero(split == "train"), train_sample_size, seed)
    return np.sort(np.concatenate([np.flatnonzero(split != "train"), train]))


def example_input(store: ImageStore) -> torch.Tensor:
    """One stored image as the model takes it: what batch-1 latency is timed on."""
    return to_model_input(torch.from_numpy(np.array(store.pixels[:1])), store.pixel_max)


@dataclass(frozen=True)
class Published:
    """What goes into data/evaluation/<arch>, whichever head (softmax or multi-label) made it."""

    predictions: pd.DataFrame
    probabilities: np.ndarray
    diagnosis: DiagnosisRecord
    confusion: pd.DataFrame
    confusion_rows: pd.DataFrame  # the dvc.yaml confusion plot's data (plot_data)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # the task's own Parquet files


def _publish(
    architecture: str,
    outputs: Published,
    metrics: MetricsRecord,
    run: EvaluationRun,
    training: TrainingRecord,
) -> None:
    """The evaluation directory (all of it or none), the tracked metrics record, the flat DVC
    metrics, the plots' data, the untracked run record: one writer for both evaluation paths,
    so their files cannot drift apart."""
    with atomic_directory(paths.evaluation_dir(architecture)) as staging:
        outputs.predictions.to_parquet(staging / paths.PREDICTIONS_FILE, index=False)
        np.save(staging / paths.PROBABILITIES_FILE, outputs.probabilities.astype(np.float32))
        write_record(staging / paths.DIAGNOSIS_FILE, outputs.diagnosis)
        outputs.confusion.to_csv(staging / paths.CONFUSION_FILE)
        for name, table in outputs.tables.items():
            table.to_parquet(staging / name, index=False)
    write_record(paths.metrics_file(architecture), metrics)
    write_record(
        paths.scores_file(architecture),
        ScoresRecord.from_records(metrics, outputs.diagnosis, training),
    )
    _write_csv(paths.learning_curve_file(architecture), learning_curve(training))
    _write_csv(paths.confusion_plot_file(architecture), outputs.confusion_rows)
    write_record(paths.evaluation_run_file(architecture), run)


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    """A plot's data file, atomically (DVC hashes it; a reader never sees half of it)."""
    with atomic_file(path) as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")


def _previous(previous: PreviousRun | None, comparison: Comparison | None) -> dict | None:
    if previous is None or comparison is None:
        return None
    return {**previous.describe(), **comparison.as_dict()}


def _log_to_mlflow(
    architecture: str,
    run_id: str | None,
    per_split: dict,
    table: BiasVarianceTable,
    diagnosis: Diagnosis,
    latency: Latency,
    training: TrainingRecord,
) -> None:
    with open_run(run_id, run_name=architecture, tags={"architecture": architecture}) as run:
        if run.info.run_id != run_id:
            # Not the run that trained the model (DVC restored training from its run cache, as
            # a sweep trial repeating an earlier configuration does): this run must still be a
            # whole candidate, so it carries the model's load-independent measurements.
            mlflow.log_metrics(training.size_metrics())
        mlflow.log_metrics(
            {
                name: value
                for name, value in flatten({"final": per_split}).items()
                if isinstance(value, float | int) and not np.isnan(value)
            }
        )
        mlflow.log_metrics({f"gap.{name}": value for name, value in table.gaps.items()})
        mlflow.log_metric("final.human_level_error", table.human_level_error)
        # Selection reads it from here (earlier runs, sweeps) or the run record (this run).
        mlflow.log_metrics(
            {
                "final.latency_ms": latency.latency_ms,
                "final.latency_median_ms": latency.median_ms,
                "final.latency_p90_ms": latency.p90_ms,
            }
        )
        mlflow.set_tags({"latency.threads": str(latency.threads), "latency.device": latency.device})
        mlflow.set_tag("diagnosis", diagnosis.summary)
        mlflow.set_tag(NOTE_TAG, run_note(table.rows, table.gaps, diagnosis.summary))
        for name in (paths.DIAGNOSIS_FILE, paths.CONFUSION_FILE):
            mlflow.log_artifact(str(paths.evaluation_dir(architecture) / name), "evaluation")
        mlflow.log_artifact(str(paths.metrics_file(architecture)), "evaluation")
        mlflow.log_artifact(str(paths.evaluation_run_file(architecture)), "evaluation")


@dataclass(frozen=True)
class PreviousRun:
    """The latest earlier evaluated run of the same architecture, as MLflow recorded it."""

    run_id: str
    started: str
    same_split: bool
    values: dict[str, float]  # keys of BiasVarianceTable.as_dict()

    def describe(self) -> dict:
        return {"run_id": self.run_id, "started": self.started, "same_split": self.same_split}


# BiasVarianceTable.as_dict() key -> the MLflow metric this stage logs it as.
_TABLE_METRICS = {
    "human_level_error": "final.human_level_error",
    "train_error": "final.train.error",
    "train_dev_error": "final.train_dev.error",
    "dev_error": "final.dev.error",
    "test_error": "final.test.error",
    **{f"{spec.name}": f"gap.{spec.name}" for spec in GAPS},
}


def previous_run(
    architecture: str, current_run_id: str | None, labels: Sequence[str] = ()
) -> PreviousRun | None:
    """What the diagnosis compares against, so the report can say what moved since then.

    Only runs trained on the same `train.multilabel` count: a pooled multi-label error and a
    softmax error measure different things, so one is no baseline for the other.
    """
    experiment_id = configure()
    runs = MlflowClient().search_runs(
        [experiment_id],
        filter_string=f"tags.architecture = '{architecture}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=50,
    )
    split_md5 = file_md5(paths.SPLIT / MANIFEST_FILE)
    for found in runs:
        metrics = found.data.metrics
        if found.info.run_id == current_run_id or "final.dev.error" not in metrics:
            continue
        if logged_multilabel(found.data.params) != list(labels):
            continue
        values = {key: metrics[name] for key, name in _TABLE_METRICS.items() if name in metrics}
        return PreviousRun(
            run_id=found.info.run_id,
            started=run_started(found) or "",
            same_split=found.data.tags.get(SPLIT_TAG) == split_md5,
            values=values,
        )
    return None
