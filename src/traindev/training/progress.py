"""A per-epoch progress bar (loss, images/s, ETA) that costs nothing when it is off.

The loss shown is read back from the device at most twice a second, never per step, so
the bar does not make the GPU wait; off a terminal, in CI or on ranks other than 0 it is
a no-op object.
"""

from __future__ import annotations

import os
import sys
import time

import torch
from tqdm.auto import tqdm

REFRESH_SECONDS = 0.5


def progress_enabled(mode: str, is_main: bool = True) -> bool:
    if mode == "never" or not is_main:
        return False
    if mode == "always":
        return True
    return sys.stderr.isatty() and not os.environ.get("CI")


class EpochProgress:
    def __init__(self, enabled: bool, epoch: int, epochs: int, examples: int) -> None:
        self.bar = (
            tqdm(
                total=examples,
                desc=f"epoch {epoch}/{epochs}",
                unit="img",
                unit_scale=True,
                leave=False,
                dynamic_ncols=True,
                mininterval=REFRESH_SECONDS,
            )
            if enabled
            else None
        )
        self.shown_at = 0.0

    def step(self, examples: int, world: int, loss_sum: torch.Tensor, lr: float) -> None:
        """`examples` on this process, of `world` processes; `loss_sum` over those examples."""
        if self.bar is None:
            return
        self.bar.update(examples * world)
        now = time.monotonic()
        if now - self.shown_at >= REFRESH_SECONDS:
            self.shown_at = now
            loss = loss_sum.item() / max(examples, 1)
            self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
