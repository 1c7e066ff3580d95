"""What the classification task is (traindev.tasks.base.TaskSpec)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from traindev.tasks.base import TaskSpec

if TYPE_CHECKING:
    from traindev.config import Params


def unsupported(params: Params) -> list[str]:
    """Transfer learning swaps a softmax output layer; a multi-label head has none yet."""
    if params.train.multilabel and params.train.transfer.init_from:
        return ["train.transfer.init_from with train.multilabel"]
    return []


SPEC = TaskSpec(
    name="classification",
    targets="the manifest's `label` (or train.multilabel's label.<name> columns, 1 / 0 / empty)",
    example_error="the arg-max class is not the label (multi-label: per present label)",
    error_types=("tags", "image properties", "user categories"),
    report_sections=("per_label", "per_class", "error_analysis", "label_issues", "mismatch"),
    unsupported=unsupported,
)
