"""`traindev train --arch NAME`: fit one architecture, log it to MLflow, checkpoint it."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import torch
from pydantic import BaseModel

from traindev import paths
from traindev.atomic import atomic_directory
from traindev.config import Params, TrainParams
from traindev.data.augmentation import Augmenter, make_augmenter
from traindev.data.batch_augmentation import BatchAugmenter, chunk_rows
from traindev.data.batches import (
    EpochCopies,
    Shard,
    cpu_threads_beside,
    loader_workers,
    make_batches,
    sample_rows,
    split_rows,
)
from traindev.data.dvc_hash import directory_md5
from traindev.data.store import MANIFEST_FILE, PIXELS_FILE, ImageStore, file_md5, read_store
from traindev.models.complexity import flops_per_example
from traindev.models.registry import build_model, count_parameters, validate_params
from traindev.records import write_record
from traindev.records.runs import TrainingRun
from traindev.records.training import Epoch, TrainingRecord
from traindev.tasks.heads import task_head
from traindev.tracking import (
    SPLIT_DVC_TAG,
    flatten,
    git_state,
    open_run,
    split_hash_tag,
)
from traindev.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    save_checkpoint,
)
from traindev.training.distributed import DistributedContext, init_distributed
from traindev.training.objectives import Objective
from traindev.training.runtime import device_description, seed_everything, select_device
from traindev.training.source_data import (
    SourceWeighted,
    row_weights,
    training_rows,
    weighted_targets,
)
from traindev.training.state import (
    TrainingState,
    clear_state,
    fingerprint,
    load_state,
    save_state,
    state_path,
)
from traindev.training.trainer import EpochRecord, Trainer
from traindev.training.transfer import (
    CHECKPOINT_ARTIFACT_DIR,
    CachedFeatures,
    freeze_all_but_last,
    load_pretrained,
    replace_output_layer,
)

# Learning curves measure train error in eval mode on at most this many training examples.
TRAIN_MONITOR_SAMPLE = 5000


def run(params: Params, architecture: str) -> str:
    """Train one architecture; the same command under `torchrun` trains data-parallel."""
    context = init_distributed(_device_type(params.train.device))
    try:
        return _train(params, architecture, context)
    finally:
        context.close()


def _device_type(requested: str) -> str:
    return select_device(requested).type


def _train(params: Params, architecture: str, context: DistributedContext) -> str:
    train_params = params.train.for_architecture(architecture)  # its overrides applied
    store = read_store(paths.SPLIT)
    seed_everything(train_params.seed, train_params.deterministic)
    device = select_device(train_params.device, context.local_rank)
    labels = train_params.multilabel
    head = task_head(params.task)(store, train_params)
    weights = row_weights(store, train_params.source_data)
    if weights is not None:  # the source rows' loss weight travels with each row's target
        if head.targets is not None:
            raise ValueError(
                "train.source_data.mode weighted needs single-label targets (no train.multilabel)"
            )
        head = replace(head, targets=weighted_targets(store, weights), objective=SourceWeighted())
    source = train_params.transfer.init_from.get(architecture)
    if source:  # the label has refused what it cannot transfer (`traindev check`)
        model, model_params, trainable = pretrained_model(architecture, source, store, params)
    else:
        model_params = params.model_params(architecture)
        model = build_model(architecture, model_params, store.image_shape, head.outputs)
        trainable = "all"
    augmenter = make_augmenter(train_params.augment, store, train_params.seed)
    offline = offline_store(store, train_params)
    batches = SplitBatches(
        store, train_params, device, context, head.targets, None if offline else augmenter, offline
    )
    if batches.augment_workers and device.type == "cpu":
        torch.set_num_threads(cpu_threads_beside(batches.augment_workers, context.world))
    if len(batches.train_rows) == 0:
        raise ValueError(f"{paths.SPLIT}: the train split is empty; check the split params")
    n_parameters = count_parameters(model)
    flops = flops_per_example(model, store.image_shape)
    hashes = data_hashes(store, offline)
    tags = {
        **git_state(),
        **hashes,
        "architecture": architecture,
        "task": params.task,  # what the run learned, beside its architecture
        "device": device_description(device),
        "stage": "train",
        "world_size": str(context.world),
    }
    if source:
        tags |= {"transfer.init_from": source, "transfer.trainable_layers": str(trainable)}
    identity = fingerprint(
        {
            "architecture": architecture,
            "train": {
                key: value
                for key, value in train_params.model_dump().items()
                if key not in RESUME_IGNORES
            },
            "model": model_params.model_dump(),
            "data": hashes,
            "world_size": context.world,
        }
    )
    checkpoints = train_params.checkpoint
    resume_file = state_path(Path(checkpoints.directory), architecture)
    resume = (
        load_state(resume_file, identity) if checkpoints.enabled and checkpoints.resume else None
    )

    cached = source is not None and train_params.transfer.cache_features and trainable == 1
    trainer, train, monitor = _trainer_and_batches(
        model, batches, cached, train_params, device, context, head.objective
    )
    run_id = resume.run_id if resume else None
    logging_run = (
        open_run(run_id, run_name=architecture, tags=tags) if context.is_main else nullcontext()
    )
    with logging_run as run:
        if context.is_main and resume is None:
            mlflow.log_params(
                flatten({"train": train_params.model_dump(), "model": model_params.model_dump()})
            )
            mlflow.log_params(
                {
                    "model.parameters": n_parameters,
                    "train.effective_batch_size": batches.batch_size,
                    "train.precision_used": trainer.precision.name,
                    "train.world_size": context.world,
                }
            )
            from traindev.tracking_datasets import log_split_datasets

            log_split_datasets(store, hashes[SPLIT_DVC_TAG])
        current_run = run.info.run_id if context.is_main else None

        def checkpoint(state: TrainingState) -> None:
            if context.is_main and checkpoints.enabled:
                state.run_id = current_run
                save_state(resume_file, state)

        try:
            result = trainer.fit(
                train,
                monitor,
                on_epoch=_log_epoch if context.is_main else None,
                on_checkpoint=checkpoint,
                resume=resume,
                fingerprint=identity,
            )
        except RuntimeError as exc:
            if resume is not None and "state_dict" in str(exc):
                raise CheckpointError(f"{resume_file}: does not fit this model: {exc}") from exc
            raise
        if not context.is_main:
            context.barrier()
            return f"rank {context.rank}: done"
        measured = {
            "parameters": n_parameters,
            "flops_per_example": flops,
            "train_seconds": result.train_seconds,
            "examples_per_second": result.examples_per_second,
        }
        mlflow.log_metrics(measured)
        if result.stopped_early_at is not None:
            mlflow.set_tag("early_stopping.stopped_at_epoch", str(result.stopped_early_at))
        if result.restored_epoch is not None:
            mlflow.set_tag("early_stopping.best_epoch", str(result.restored_epoch))
        record = TrainingRecord(
            architecture=architecture,
            device=device_description(device),
            world_size=context.world,
            precision=trainer.precision.name,
            epochs=train_params.epochs,
            epochs_run=len(result.history),
            stopped_early_at=result.stopped_early_at,
            best_epoch=result.restored_epoch,
            binary_labels=list(labels),
            augmentation=[spec.label() for spec in augmenter.specs] if augmenter else [],
            augmentation_backend=augmenter.backend if augmenter else None,
            augmentation_offline_copies=train_params.augment.offline_copies,
            history=[Epoch(**point) for point in _curve_points(result.history)],
            parameters=n_parameters,
            flops_per_example=flops,
        )
        run_record = TrainingRun(
            architecture=architecture,
            run_id=current_run,
            train_seconds=result.train_seconds,
            examples_per_second=result.examples_per_second,
            epoch_seconds=[point.seconds for point in result.history],
            resumed_from_epoch=result.resumed_from,
        )
        checkpoint_record = Checkpoint(
            architecture=architecture,
            model_params=model_params.model_dump(),
            input_shape=store.image_shape,
            classes=store.classes,
            pixel_max=store.pixel_max,
            state_dict=trainer.model.state_dict(),
            binary_labels=list(labels),
        )
        _write_outputs(checkpoint_record, record)
        write_record(paths.training_run_file(architecture), run_record)
    context.barrier()
    clear_state(resume_file)  # finished: the next run of this stage starts fresh
    final = result.history[-1]
    stopped = (
        f", stopped early at epoch {result.stopped_early_at}" if result.stopped_early_at else ""
    )
    resumed = f", resumed after epoch {result.resumed_from}" if result.resumed_from else ""
    return (
        f"trained {architecture} ({n_parameters:,} parameters) on {device_description(device)}"
        f"{' x' + str(context.world) if context.world > 1 else ''}: "
        f"dev error {final.dev_error:.2%}, {result.examples_per_second:,.0f} examples/s"
        f"{stopped}{resumed}"
    )


# Why a run has no MLflow model: the pyfunc (traindev.serving) returns class probabilities.
MODEL_SKIPPED_TAG = "model.skipped"
DETECTOR_MODEL_SKIPPED = (
    "traindev.serving's pyfunc serves classifiers only; a detector's checkpoint is logged under "
    f"{CHECKPOINT_ARTIFACT_DIR}/ and rebuilds it (load_checkpoint(...).build())"
)


# Settings that change how a run is executed or shown, not what it computes.
RESUME_IGNORES = {"checkpoint", "progress", "num_workers", "architectures"}


class SplitBatches:
    """The training split (shuffled, sharded) and the eval-mode monitors of the curves."""

    def __init__(
        self,
        store: ImageStore,
        params: TrainParams,
        device: torch.device,
        context: DistributedContext,
        targets: np.ndarray | None = None,
        augmenter: Augmenter | BatchAugmenter | None = None,
        offline: ImageStore | None = None,
    ) -> None:
        self.store, self.params, self.device, self.context = store, params, device, context
        self.targets = targets
        self.augmenter = augmenter  # the training batches only, never a monitor
        self.offline = offline  # augmented copies of the train split (the augment stage)
        # the rows the optimizer sees: the train split, or its target rows (train.source_data)
        self.train_rows = training_rows(store, params.source_data)
        self.batch_size = (
            len(self.train_rows) if params.batch_size == "full" else int(params.batch_size)
        )
        self.workers = loader_workers(params.num_workers, context.world)
        # albumentations augments in workers (always at least one), each keeping a core busy;
        # the batched backend runs in the training process and needs none.
        self.augment_workers = max(1, self.workers) if isinstance(augmenter, Augmenter) else 0

    def of(
        self,
        split: str,
        shuffle: bool = False,
        rows: np.ndarray | None = None,
        shard: bool = False,
        augmenter: Augmenter | BatchAugmenter | None = None,
        batch_size: int | None = None,
    ):
        rows = split_rows(self.store, split) if rows is None else rows
        context = self.context
        if not shard and context.world > 1:
            rows = rows[context.rank :: context.world]  # evaluation: every row, once
        if batch_size is None:
            batch_size = max(self.batch_size // context.world, 1) if not shard else self.batch_size
        return make_batches(
            self.store,
            split,
            batch_size,
            self.device,
            self.params.in_memory_max_mb,
            shuffle=shuffle,
            seed=self.params.seed,
            num_workers=self.workers,
            rows=rows,
            targets=None if self.targets is None else self.targets[rows],
            shard=context.shard if shard else Shard(),
            augment=augmenter,
        )

    def training(self):
        if self.offline is not None:
            return self.offline_copies(self.offline)
        return self.of(
            "train", shuffle=True, shard=True, augmenter=self.augmenter, rows=self.train_rows
        )

    def offline_copies(self, offline: ImageStore) -> EpochCopies:
        """One batch source per copy, in the train split's order: the same batches as on the
        fly. The memory budget is shared: each copy gets its 1 / N of in_memory_max_mb."""
        from traindev.data.offline_store import copy_rows

        copies = self.params.augment.offline_copies
        # copies hold every train row in order; keep those of the rows trained on
        kept = np.isin(split_rows(self.store, "train"), self.train_rows)
        targets = None if self.targets is None else self.targets[self.train_rows]
        return EpochCopies(
            [
                make_batches(
                    offline,
                    "train",
                    self.batch_size,
                    self.device,
                    self.params.in_memory_max_mb / copies,
                    shuffle=True,
                    seed=self.params.seed,
                    num_workers=self.workers,
                    rows=copy_rows(offline, copy)[kept],
                    targets=targets,
                    shard=self.context.shard,
                )
                for copy in range(copies)
            ]
        )

    def monitor(self) -> dict:
        """Train error on a fixed sample of the training split, train-dev and dev error.

        Scored in chunks of whole training batches up to MAX_CHUNK_BYTES of input
        (`chunk_rows`), not batch by batch: these are no-gradient eval-mode passes, where
        torch's per-call overhead dominates small batches (64-row batches made the monitor
        about 15% of deep_nn's training). Eval mode scores each example on its own (no
        dropout, batch-norm running statistics); the default models' logits are bit-identical
        either way on CPU (tests/training/test_monitor_batches.py).
        """
        sample = sample_rows(self.train_rows, TRAIN_MONITOR_SAMPLE, self.params.seed)
        size = chunk_rows(max(self.batch_size // self.context.world, 1), self.store.image_shape)
        return {
            "train": self.of("train", rows=sample, batch_size=size),
            "train_dev": self.of("train_dev", batch_size=size),
            "dev": self.of("dev", batch_size=size),
        }


def _trainer_and_batches(
    model: torch.nn.Module,
    batches: SplitBatches,
    cached: bool,
    params: TrainParams,
    device: torch.device,
    context: DistributedContext,
    objective: Objective,
) -> tuple[Trainer, object, dict]:
    """A trainer for the whole model, or (cached features) for its output layer alone."""
    monitor = batches.monitor()
    if not cached:
        trainer = Trainer(model, params, device, objective, context)
        return trainer, batches.training(), monitor
    if context.world > 1:
        raise ValueError("train.transfer.cache_features runs on one process; drop torchrun")
    cache = CachedFeatures(model.to(device))
    size = batches.batch_size
    train = cache.features(
        batches.of("train", rows=batches.train_rows), size, shuffle=True, seed=params.seed
    )
    monitor = {name: cache.features(split, size) for name, split in monitor.items()}
    return Trainer(cache.head, params, device, objective, context), train, monitor


def _curve_points(history: list[EpochRecord]) -> list[dict]:
    """The learning curves without each epoch's wall time (that goes to the run record)."""
    return [
        {key: value for key, value in point.as_dict().items() if key != "seconds"}
        for point in history
    ]


def _write_outputs(checkpoint: Checkpoint, record: TrainingRecord) -> None:
    """Checkpoint, training record and the MLflow model (a pyfunc over that checkpoint,
    traindev.serving), all or nothing."""
    from traindev.serving import log_model

    with atomic_directory(paths.model_dir(checkpoint.architecture)) as staging:
        save_checkpoint(staging / paths.CHECKPOINT_FILE, checkpoint)
        write_record(staging / paths.TRAINING_FILE, record)
        mlflow.log_artifact(str(staging / paths.CHECKPOINT_FILE), CHECKPOINT_ARTIFACT_DIR)
        if checkpoint.detection is None:
            log_model(staging / paths.CHECKPOINT_FILE, checkpoint)
        else:  # the run still holds the checkpoint artifact, which rebuilds the detector
            mlflow.set_tag(MODEL_SKIPPED_TAG, DETECTOR_MODEL_SKIPPED)


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


def offline_store(store: ImageStore, params: TrainParams) -> ImageStore | None:
    """data/augmented when `train.augment.offline_copies` > 0, checked against the split."""
    copies = params.augment.offline_copies
    if not copies:
        return None
    from traindev.data.materialize import check_offline

    offline = read_store(paths.AUGMENTED)
    check_offline(offline, store, copies)
    return offline


def data_hashes(store: ImageStore, offline: ImageStore | None = None) -> dict[str, str]:
    """MD5s of the split the model is trained on (and of the offline augmented copies it
    reads), and DVC's hash of the split directory (as dvc.lock records it)."""
    hashes = {
        split_hash_tag(name): file_md5(store.path / name) for name in (MANIFEST_FILE, PIXELS_FILE)
    }
    if offline is not None:
        hashes["data.augmented.pixels.npy.md5"] = file_md5(offline.path / PIXELS_FILE)
    known = {name: hashes[split_hash_tag(name)] for name in (MANIFEST_FILE, PIXELS_FILE)}
    hashes[SPLIT_DVC_TAG] = directory_md5(store.path, known)
    return hashes
