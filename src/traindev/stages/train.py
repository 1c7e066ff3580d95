"""`traindev train --arch NAME`: fit one architecture, log it to MLflow, checkpoint it."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import torch
import yaml
from pydantic import BaseModel

from traindev import paths
from traindev.atomic import atomic_directory
from traindev.config import Params, TrainParams
from traindev.data.batches import make_batches, sample_rows, split_rows
from traindev.data.store import MANIFEST_FILE, PIXELS_FILE, ImageStore, file_md5, read_store
from traindev.models.complexity import flops_per_example
from traindev.models.registry import build_model, count_parameters, validate_params
from traindev.tracking import flatten, git_state, open_run, split_hash_tag
from traindev.training.checkpoint import (
    CHECKPOINT_FILE,
    Checkpoint,
    CheckpointError,
    save_checkpoint,
)
from traindev.training.runtime import device_description, seed_everything, select_device
from traindev.training.trainer import EpochRecord, Trainer
from traindev.training.transfer import (
    CachedFeatures,
    freeze_all_but_last,
    load_pretrained,
    replace_output_layer,
)

TRAINING_FILE = "training.json"
# Learning curves measure train error in eval mode on at most this many training examples.
TRAIN_MONITOR_SAMPLE = 5000


def run(params: Params, architecture: str) -> str:
    train_params = params.train
    store = read_store(paths.SPLIT)
    seed_everything(train_params.seed, train_params.deterministic)
    device = select_device(train_params.device)
    source = train_params.transfer.init_from.get(architecture)
    if source:
        model, model_params, trainable = pretrained_model(architecture, source, store, params)
    else:
        model_params = params.model_params(architecture)
        model = build_model(architecture, model_params, store.image_shape, len(store.classes))
        trainable = "all"
    batches = SplitBatches(store, train_params, device)
    if len(batches.train_rows) == 0:
        raise ValueError(f"{paths.SPLIT}: the train split is empty; check the split params")
    n_parameters = count_parameters(model)
    flops = flops_per_example(model, store.image_shape)
    tags = {
        **git_state(),
        **data_hashes(store),
        "architecture": architecture,
        "device": device_description(device),
        "stage": "train",
    }
    if source:
        tags |= {"transfer.init_from": source, "transfer.trainable_layers": str(trainable)}

    with open_run(run_name=architecture, tags=tags) as run:
        mlflow.log_params(
            flatten({"train": train_params.model_dump(), "model": model_params.model_dump()})
        )
        mlflow.log_param("model.parameters", n_parameters)
        cached = source is not None and train_params.transfer.cache_features and trainable == 1
        trainer, train, monitor = _trainer_and_batches(model, batches, cached, train_params, device)
        result = trainer.fit(train, monitor, on_epoch=_log_epoch)
        measured = {
            "parameters": n_parameters,
            "flops_per_example": flops,
            "train_seconds": result.train_seconds,
            "examples_per_second": result.examples_per_second,
        }
        mlflow.log_metrics(measured)
        summary = {
            "architecture": architecture,
            "run_id": run.info.run_id,
            "device": device_description(device),
            "epochs": train_params.epochs,
            "history": [record.as_dict() for record in result.history],
            **measured,
        }
        checkpoint = Checkpoint(
            architecture=architecture,
            model_params=model_params.model_dump(),
            input_shape=store.image_shape,
            classes=store.classes,
            pixel_max=store.pixel_max,
            state_dict=model.state_dict(),
        )
        _write_outputs(model.eval(), checkpoint, summary, store)
    final = result.history[-1]
    return (
        f"trained {architecture} ({n_parameters:,} parameters) on {device_description(device)}: "
        f"dev error {final.dev_error:.2%}, {result.examples_per_second:,.0f} examples/s"
    )


class SplitBatches:
    """The training split (shuffled) and the eval-mode monitors of the learning curves."""

    def __init__(self, store: ImageStore, params: TrainParams, device: torch.device) -> None:
        self.store, self.params, self.device = store, params, device
        self.train_rows = split_rows(store, "train")

    def of(self, split: str, shuffle: bool = False, rows: np.ndarray | None = None):
        return make_batches(
            self.store,
            split,
            self.params.batch_size,
            self.device,
            self.params.in_memory_max_mb,
            shuffle=shuffle,
            seed=self.params.seed,
            num_workers=self.params.num_workers,
            rows=rows,
        )

    def monitor(self) -> dict:
        """Train error on a fixed sample of the training split, train-dev and dev error."""
        sample = sample_rows(self.train_rows, TRAIN_MONITOR_SAMPLE, self.params.seed)
        return {
            "train": self.of("train", rows=sample),
            "train_dev": self.of("train_dev"),
            "dev": self.of("dev"),
        }


def _trainer_and_batches(
    model: torch.nn.Module,
    batches: SplitBatches,
    cached: bool,
    params: TrainParams,
    device: torch.device,
) -> tuple[Trainer, object, dict]:
    """A trainer for the whole model, or (cached features) for its output layer alone."""
    monitor = batches.monitor()
    if not cached:
        return Trainer(model, params, device), batches.of("train", shuffle=True), monitor
    cache = CachedFeatures(model.to(device))
    size = params.batch_size
    train = cache.features(batches.of("train"), size, shuffle=True, seed=params.seed)
    monitor = {name: cache.features(split, size) for name, split in monitor.items()}
    return Trainer(cache.head, params, device), train, monitor


def _write_outputs(
    model: torch.nn.Module, checkpoint: Checkpoint, summary: dict, store: ImageStore
) -> None:
    """Checkpoint, training summary and the MLflow model, all or nothing."""
    with atomic_directory(paths.model_dir(checkpoint.architecture)) as staging:
        save_checkpoint(staging / CHECKPOINT_FILE, checkpoint)
        (staging / TRAINING_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        mlflow.log_artifact(str(staging / CHECKPOINT_FILE), "checkpoint")
        _log_model(model.cpu(), store)


def pretrained_model(
    architecture: str, source: str, store: ImageStore, params: Params
) -> tuple[torch.nn.Module, BaseModel, int | str]:
    """The notes' transfer learning: earlier weights, a new output layer, frozen layers."""
    checkpoint = load_pretrained(source)
    if checkpoint.architecture != architecture:
        raise CheckpointError(
            f"train.transfer.init_from.{architecture}: {source} holds a "
            f"{checkpoint.architecture!r} model, not {architecture!r}"
        )
    model_params = validate_params(architecture, checkpoint.model_params)
    model = build_model(architecture, model_params, store.image_shape, len(checkpoint.classes))
    try:
        model.load_state_dict(checkpoint.state_dict)
    except RuntimeError as exc:
        raise CheckpointError(
            f"train.transfer.init_from.{architecture}: {source} does not fit data of shape "
            f"{store.image_shape} (C, H, W): {exc}"
        ) from exc
    replace_output_layer(model, len(store.classes))
    trainable = freeze_all_but_last(model, params.train.transfer.trainable_layers)
    return model, model_params, trainable


def _log_epoch(record: EpochRecord) -> None:
    mlflow.log_metrics(
        {
            "loss": record.loss,
            "train_error": record.train_error,
            "train_dev_error": record.train_dev_error,
            "dev_error": record.dev_error,
            "lr": record.lr,
        },
        step=record.epoch,
    )


def _log_model(model: torch.nn.Module, store: ImageStore) -> None:
    """Log the model with a signature; an example of 2 rows keeps the batch size dynamic."""
    example = (np.asarray(store.pixels[:2], dtype=np.float32) / store.pixel_max).transpose(
        0, 3, 1, 2
    )
    mlflow.pytorch.log_model(
        model,
        name="model",
        input_example=example,
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
    )


def data_hashes(store: ImageStore) -> dict[str, str]:
    """MD5s of the split the model is trained on, and DVC's hash of it when dvc.lock has one."""
    hashes = {
        split_hash_tag(name): file_md5(store.path / name) for name in (MANIFEST_FILE, PIXELS_FILE)
    }
    lock = Path("dvc.lock")
    if lock.is_file():
        stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
        for out in stages.get("split", {}).get("outs", []):
            if out.get("path") == str(paths.SPLIT):
                hashes["data.split.dvc_md5"] = out.get("md5", "")
    return hashes
