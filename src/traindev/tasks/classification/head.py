"""Classification's head: a softmax over the classes, or a sigmoid per yes / no label."""

from __future__ import annotations

from traindev.config import TrainParams
from traindev.data.multilabel import multilabel_targets
from traindev.data.store import ImageStore
from traindev.tasks.base import Head
from traindev.training.objectives import MultiLabel, SingleLabel


def head(store: ImageStore, train: TrainParams) -> Head:
    """As many outputs as classes (labels as the manifest's indices), or as train.multilabel."""
    if train.multilabel:
        return Head(
            len(train.multilabel), multilabel_targets(store, train.multilabel), MultiLabel()
        )
    return Head(len(store.classes), None, SingleLabel())
