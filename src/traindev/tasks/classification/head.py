"""Classification's head: a softmax over the classes, or a sigmoid per yes / no label."""

from __future__ import annotations

from traindev.config import TrainParams
from traindev.data.store import ImageStore
from traindev.data.tasks import task_targets
from traindev.tasks.base import Head
from traindev.training.objectives import MultiLabel, SingleLabel


def head(store: ImageStore, train: TrainParams) -> Head:
    """As many outputs as classes (labels as the manifest's indices), or as train.tasks."""
    if train.tasks:
        return Head(len(train.tasks), task_targets(store, train.tasks), MultiLabel())
    return Head(len(store.classes), None, SingleLabel())
