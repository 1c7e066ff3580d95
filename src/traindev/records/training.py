"""data/models/<arch>/training.json: what training did, a function of the stage's inputs.

Wall times, throughput and the MLflow run id are not here: they differ on every run with the
same inputs, and this file is inside a DVC-hashed output. They go to MLflow and to the
untracked run record (records.runs.TrainingRun).
"""

from __future__ import annotations

from traindev.records.base import Record


class Epoch(Record):
    """One epoch's curves point (errors measured in eval mode after the epoch)."""

    epoch: int
    loss: float
    train_error: float
    train_dev_error: float
    dev_error: float
    lr: float


class TrainingRecord(Record):
    architecture: str
    device: str
    world_size: int
    precision: str
    epochs: int  # train.epochs
    epochs_run: int
    stopped_early_at: int | None
    best_epoch: int | None  # the best dev epoch whose weights early stopping kept
    binary_labels: list[str]
    augmentation: list[str]
    augmentation_backend: str | None
    augmentation_offline_copies: int
    history: list[Epoch]
    parameters: int
    flops_per_example: int | None

    def size_metrics(self) -> dict[str, int]:
        """The model's load-independent satisficing figures, under the names train logs them
        to MLflow (FLOPs left out where they could not be counted)."""
        size = {"parameters": self.parameters}
        if self.flops_per_example is not None:
            size["flops_per_example"] = self.flops_per_example
        return size
