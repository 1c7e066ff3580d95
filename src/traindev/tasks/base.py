"""The seam: what the stages ask a task instead of assuming classification.

A task owns what differs between kinds of target; the stages keep what is the same for all of
them (the split, the trainer, the five-row table with its bootstrap and diagnosis, MLflow,
selection and the report's frame). A task is a package `traindev.tasks.<name>` with one module
per stage it changes, so each DVC stage depends on exactly the task code it runs (training
never re-runs because a metric changed):

- `spec.py`, `SPEC`: plain facts (what lies beside the manifest, when an example is wrong, the
  error types, the report's sections) and `unsupported(params)`, what the pipeline cannot run
  yet for it, so `traindev check` refuses a params file up front instead of a stage writing a
  half result (`traindev.tasks.specs`);
- `head.py`, `head(store, train)`: the model's output size, the training targets and the loss
  (`traindev.tasks.heads`);
- `scoring.py`, `score(model, store, rows, evaluate, device, checkpoint=...)`: one model (and
  the checkpoint it was rebuilt from, for what decodes its outputs) on the evaluated rows,
  as a per-example error (the unit of the five-row table and its bootstrap) beside the task's
  own per-split metrics (`traindev.tasks.scoring`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch

    from traindev.config import EvaluateParams, Params, TrainParams
    from traindev.data.store import ImageStore
    from traindev.training.checkpoint import Checkpoint
    from traindev.training.objectives import Objective


class TaskNotSupported(ValueError):
    """A params file asks for something the chosen task cannot run yet."""


@dataclass(frozen=True)
class TaskSpec:
    """What a task is, as plain facts; cheap to import (no torch, no task code)."""

    name: str
    targets: str  # what lies beside the manifest, one line (docs/tasks.md)
    example_error: str  # when one example counts as wrong, one line
    error_types: tuple[str, ...]  # error-analysis categories besides tags and user ticks
    report_sections: tuple[str, ...]  # keys of traindev.reporting.render.SECTIONS, in order
    unsupported: Callable[[Params], list[str]]  # what params asks that cannot run yet


@dataclass(frozen=True)
class Head:
    """What training needs from a task."""

    outputs: int  # size of the model's last layer
    targets: np.ndarray | None  # per store row; None: the manifest's label indices
    objective: Objective  # the loss and what counts as a mistake


@dataclass(frozen=True)
class Scores:
    """One model scored on the evaluated rows, in the order of `rows`."""

    rows: np.ndarray  # store rows
    split: np.ndarray  # each row's split
    wrong: np.ndarray  # bool per row: the per-example error of the five-row table
    per_split: dict[str, dict]  # split -> the task's metrics (at least count and error)
    predictions: pd.DataFrame  # one row per evaluated row (data/evaluation/<arch>)
    outputs: np.ndarray  # the model's per-row outputs as saved (e.g. probabilities)
    confusion: pd.DataFrame  # the dev confusion (a task's own layout)
    confusion_rows: pd.DataFrame  # the dvc.yaml confusion plot's data
    diagnosis_extra: dict = field(default_factory=dict)  # task fields of the diagnosis record
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # task files, name -> table


class HeadBuilder(Protocol):
    """`<task>/head.py`'s `head`."""

    def __call__(self, store: ImageStore, train: TrainParams) -> Head: ...


class Scorer(Protocol):
    """`<task>/scoring.py`'s `score`."""

    def __call__(
        self,
        model: torch.nn.Module,
        store: ImageStore,
        rows: np.ndarray,
        evaluate: EvaluateParams,
        device: torch.device,
        *,
        checkpoint: Checkpoint | None = None,
    ) -> Scores: ...
