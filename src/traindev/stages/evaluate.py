"""`traindev evaluate --arch NAME`: every split scored, the bias / variance table, a diagnosis."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import torch

from traindev import paths
from traindev.atomic import atomic_directory, write_json
from traindev.config import Params
from traindev.data.batches import to_model_input
from traindev.data.store import SPLITS, read_store
from traindev.evaluation.diagnosis import BiasVarianceTable, Diagnosis, diagnose
from traindev.evaluation.metrics import classification_metrics, confusion_table
from traindev.evaluation.predict import latency_ms, predict_probabilities
from traindev.stages.train import TRAINING_FILE
from traindev.tracking import open_run
from traindev.training.checkpoint import CHECKPOINT_FILE, load_checkpoint
from traindev.training.runtime import select_device

PREDICTIONS_FILE = "predictions.parquet"
PROBABILITIES_FILE = "probabilities.npy"
DIAGNOSIS_FILE = "diagnosis.json"
CONFUSION_FILE = "confusion_dev.csv"


def run(params: Params, architecture: str) -> str:
    evaluate = params.evaluate
    store = read_store(paths.SPLIT)
    checkpoint = load_checkpoint(paths.model_dir(architecture) / CHECKPOINT_FILE)
    if checkpoint.classes != store.classes:
        raise ValueError(
            f"{paths.model_dir(architecture)}: the model was trained on classes "
            f"{checkpoint.classes} but {paths.SPLIT} has {store.classes}; re-run `dvc repro`"
        )
    device = select_device("auto")
    model = checkpoint.build()
    probabilities = predict_probabilities(model, store, device, evaluate.batch_size)
    example = to_model_input(torch.from_numpy(np.array(store.pixels[:1])), store.pixel_max)
    inference = {"latency_ms": latency_ms(model, example, device), "device": str(device)}
    y_true = store.label_indices()
    y_pred = probabilities.argmax(axis=1)
    split = store.manifest["split"].to_numpy()

    per_split = {
        name: classification_metrics(
            y_true[split == name], y_pred[split == name], len(store.classes)
        )
        for name in SPLITS
    }
    table = BiasVarianceTable(
        human_level_error=evaluate.human_level_error,
        **{f"{name}_error": per_split[name].get("error", float("nan")) for name in SPLITS},
    )
    diagnosis = diagnose(table, evaluate.diagnosis)
    confusion = confusion_table(y_true[split == "dev"], y_pred[split == "dev"], store.classes)
    predictions = pd.DataFrame(
        {
            "row": np.arange(len(split)),
            "id": store.manifest["id"],
            "split": split,
            "domain": store.manifest["domain"],
            "label": store.manifest["label"],
            "prediction": np.asarray(store.classes, dtype=object)[y_pred],
            "confidence": probabilities.max(axis=1),
        }
    )

    with atomic_directory(paths.evaluation_dir(architecture)) as staging:
        predictions.to_parquet(staging / PREDICTIONS_FILE, index=False)
        np.save(staging / PROBABILITIES_FILE, probabilities.astype(np.float32))
        (staging / DIAGNOSIS_FILE).write_text(json.dumps(diagnosis.as_dict(), indent=2) + "\n")
        confusion.to_csv(staging / CONFUSION_FILE)
    metrics = {"splits": per_split, "bias_variance": table.as_dict(), "inference": inference}
    write_json(paths.metrics_file(architecture), metrics)
    _log_to_mlflow(architecture, per_split, table, diagnosis, inference["latency_ms"])
    return f"evaluated {architecture}: {diagnosis.summary}"


def _log_to_mlflow(
    architecture: str,
    per_split: dict,
    table: BiasVarianceTable,
    diagnosis: Diagnosis,
    latency: float,
) -> None:
    training = json.loads((paths.model_dir(architecture) / TRAINING_FILE).read_text())
    with open_run(
        training.get("run_id"), run_name=architecture, tags={"architecture": architecture}
    ):
        mlflow.log_metrics(
            {
                f"final.{split}.{metric}": value
                for split, values in per_split.items()
                for metric, value in values.items()
                if not np.isnan(value)
            }
        )
        mlflow.log_metrics({f"gap.{name}": value for name, value in table.gaps.items()})
        mlflow.log_metric("final.latency_ms", latency)
        mlflow.set_tag("diagnosis", diagnosis.summary)
        for name in (DIAGNOSIS_FILE, CONFUSION_FILE):
            mlflow.log_artifact(str(paths.evaluation_dir(architecture) / name), "evaluation")
        mlflow.log_artifact(str(paths.metrics_file(architecture)), "evaluation")
