"""Learning-rate schedules from `train.schedule`, as a per-step multiplier of the base lr.

The notes' decays are functions of the epoch number (counting from 1), so they step once
per epoch; cosine and the warm-up are smooth in the fractional epoch. One `LambdaLR`
stepped after every optimizer step covers both, and its state (a step counter) is what
a resumed run restores.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from traindev.config import ScheduleParams


def lr_factor(
    schedule: ScheduleParams, base_lr: float, total_epochs: int
) -> Callable[[float], float]:
    """factor(epoch) for `epoch` in [0, total_epochs): completed epochs, fractional in-epoch."""

    def decay(epoch: float) -> float:
        epoch_num = math.floor(epoch) + 1  # the notes' epoch_num: 1 during the first epoch
        match schedule.name:
            case "constant":
                return 1.0
            case "inverse_time":
                return 1.0 / (1.0 + schedule.decay_rate * epoch_num)
            case "exponential":
                return schedule.base**epoch_num
            case "inverse_sqrt":
                return schedule.k / math.sqrt(epoch_num)
            case "step":
                return schedule.gamma ** (math.floor(epoch) // schedule.step_epochs)
            case "cosine":
                start = schedule.warmup_epochs
                span = max(total_epochs - start, 1e-12)
                progress = min(max((epoch - start) / span, 0.0), 1.0)
                floor = schedule.min_lr / base_lr
                return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
        raise ValueError(f"train.schedule.name: unknown schedule {schedule.name!r}")

    def factor(epoch: float) -> float:
        ramp = 1.0
        if schedule.warmup_epochs > 0 and epoch < schedule.warmup_epochs:
            ramp = (epoch + 1e-3) / schedule.warmup_epochs  # never exactly 0: Adam needs a step
            ramp = min(ramp, 1.0)
        return ramp * decay(epoch)

    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    schedule: ScheduleParams,
    total_epochs: int,
    steps_per_epoch: int,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A scheduler to step after every optimizer step; `last_epoch` counts steps."""
    base_lr = optimizer.param_groups[0]["lr"]
    factor = lr_factor(schedule, base_lr, total_epochs)
    steps = max(steps_per_epoch, 1)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: factor(step / steps))
