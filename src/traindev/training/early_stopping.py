"""Early stopping on dev error with patience (off by default).

The notes call it non-orthogonal: one knob both stops fitting the training set (bias) and
regularizes (variance), so the two can no longer be tuned apart. L2 or dropout with a
fixed epoch budget is the orthogonal alternative; this is here for when compute is short.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch

from traindev.config import EarlyStoppingParams


@dataclass
class EarlyStopping:
    params: EarlyStoppingParams
    best_error: float = float("inf")
    best_epoch: int = 0
    bad_epochs: int = 0
    best_weights: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    def update(self, epoch: int, dev_error: float, model: torch.nn.Module) -> bool:
        """Record this epoch's dev error; True when training should stop now."""
        if not self.params.enabled:
            return False
        if dev_error < self.best_error - self.params.min_delta:
            self.best_error, self.best_epoch, self.bad_epochs = dev_error, epoch, 0
            if self.params.restore_best:
                self.best_weights = {
                    name: value.detach().to("cpu", copy=True)
                    for name, value in model.state_dict().items()
                }
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.params.patience

    def restore(self, model: torch.nn.Module) -> int | None:
        """Load the best epoch's weights when asked to; returns that epoch."""
        if not (self.params.enabled and self.params.restore_best and self.best_weights):
            return None
        model.load_state_dict(self.best_weights)
        return self.best_epoch

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_error": self.best_error,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "best_weights": copy.copy(self.best_weights),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_error = state["best_error"]
        self.best_epoch = state["best_epoch"]
        self.bad_epochs = state["bad_epochs"]
        self.best_weights = state["best_weights"]
