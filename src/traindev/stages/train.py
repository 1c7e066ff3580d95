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
from traindev.config import Params
from traindev.data.batches import make_batches, split_rows
from traindev.data.store import MANIFEST_FILE, PIXELS_FILE, ImageStore, file_md5, read_store
from traindev.models.complexity import flops_per_example
from traindev.models.registry import build_model, count_parameters, validate_params
from traindev.tracking import flatten, git_state, open_run
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

    def batches(split: str, shuffle: bool = False, rows: np.ndarray | None = None):
        return make_batches(
            store,
            split,
            train_params.batch_size,
            device,
            train_params.in_memory_max_mb,
            shuffle=shuffle,
            seed=train_params.seed,
            num_workers=train_params.num_workers,
            rows=rows,
        )

    train_rows = split_rows(store, "train")
    if len(train_rows) == 0:
        raise ValueError(f"{paths.SPLIT}: the train split is empty; check the split params")
    monitor_rows = np.random.default_rng(train_params.seed).permutation(train_rows)
    monitor = {
        "train": batches("train", rows=np.sort(monitor_rows[:TRAIN_MONITOR_SAMPLE])),
        "train_dev": batches("train_dev"),
        "dev": batches("dev"),
    }
    n_parameters = count_parameters(model)
    flops = flops_per_example(model, store.image_shape)
    cached = source is not None and train_params.transfer.cache_features and trainable == 1
    tags = {
        **git_state(),
        **data_hashes(store),
        "architecture": architecture,
        "device": device_description(device),
        "stage": "train",
        **(
            {"transfer.init_from": source, "transfer.trainable_layers": str(trainable)}
            if source
            else {}
        ),
    }
    with open_run(run_name=architecture, tags=tags) as run:
        mlflow.log_params(
            flatten({"train": train_params.model_dump(), "model": model_params.model_dump()})
        )
        mlflow.log_param("model.parameters", n_parameters)
        train_batches = batches("train", shuffle=True)
        if cached:  # only the new output layer trains: on the frozen body's cached activations
            cache = CachedFeatures(model.to(device))
            size = train_params.batch_size
            train_batches = cache.features(batches("train"), size, True, train_params.seed)
            monitor = {name: cache.features(split, size) for name, split in monitor.items()}
            trainer = Trainer(cache.head, train_params, device)
        else:
            trainer = Trainer(model, train_params, device)
        result = trainer.fit(train_batches, monitor, on_epoch=_log_epoch)
        mlflow.log_metrics(
            {
                "train_seconds": result.train_seconds,
                "examples_per_second": result.examples_per_second,
                "parameters": n_parameters,
                "flops_per_example": flops,
            }
        )
        model.eval()
        with atomic_directory(paths.model_dir(architecture)) as staging:
            save_checkpoint(
                staging / CHECKPOINT_FILE,
                Checkpoint(
                    architecture=architecture,
                    model_params=model_params.model_dump(),
                    input_shape=store.image_shape,
                    classes=store.classes,
                    pixel_max=store.pixel_max,
                    state_dict=model.state_dict(),
                ),
            )
            summary = {
                "architecture": architecture,
                "run_id": run.info.run_id,
                "parameters": n_parameters,
                "flops_per_example": flops,
                "train_seconds": result.train_seconds,
                "examples_per_second": result.examples_per_second,
                "device": device_description(device),
                "epochs": train_params.epochs,
                "history": [record.as_dict() for record in result.history],
            }
            (staging / TRAINING_FILE).write_text(json.dumps(summary, indent=2) + "\n")
            mlflow.log_artifact(str(staging / CHECKPOINT_FILE), "checkpoint")
            _log_model(model.cpu(), store)
    final = result.history[-1]
    return (
        f"trained {architecture} ({n_parameters:,} parameters) on {device_description(device)}: "
        f"dev error {final.dev_error:.2%}, {result.examples_per_second:,.0f} examples/s"
    )


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
        f"data.split.{name}.md5": file_md5(store.path / name)
        for name in (MANIFEST_FILE, PIXELS_FILE)
    }
    lock = Path("dvc.lock")
    if lock.is_file():
        stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
        for out in stages.get("split", {}).get("outs", []):
            if out.get("path") == str(paths.SPLIT):
                hashes["data.split.dvc_md5"] = out.get("md5", "")
    return hashes
