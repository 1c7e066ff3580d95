"""What a step minimizes and what counts as a mistake: one softmax, or a sigmoid per label.

`Objective` is how a task supplies its loss and targets to `Trainer`: any (outputs, targets)
pair the task's batches yield, e.g. detection's YOLO objective (tasks.detection.objective).
Each returns a *sum* over the batch's examples, so the trainer can divide by the global
batch size: the same gradient on one process or split over several.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch.nn import functional


class Objective(Protocol):
    def loss_sum(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...

    def mistakes(
        self, outputs: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(wrong, scored) counts, on the device."""
        ...


class SingleLabel:
    """Softmax cross-entropy over the classes; a mistake is a wrong arg-max."""

    def loss_sum(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return functional.cross_entropy(logits.float(), targets, reduction="sum")

    def mistakes(
        self, logits: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        wrong = (logits.argmax(1) != targets).sum()
        return wrong, torch.full_like(wrong, len(targets))


class MultiLabel:
    """Course 3, week 2's multi-label learning: a sigmoid per label, missing labels masked out.

    Targets are floats 1 / 0 with NaN where an image has no label for a label; the loss sums
    the logistic losses of the labels present, J = 1/m sum_i sum_{j present} L(y_ij, yhat_ij),
    so an image labelled for 2 of 4 labels still teaches those 2.
    """

    def loss_sum(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        present = ~torch.isnan(targets)
        losses = functional.binary_cross_entropy_with_logits(
            logits.float(), torch.nan_to_num(targets, nan=0.0), reduction="none"
        )
        return (losses * present).sum()

    def mistakes(
        self, logits: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        present = ~torch.isnan(targets)
        wrong = ((logits > 0) != (targets > 0.5)) & present
        return wrong.sum(), present.sum()
