"""Progress on stderr: a per-epoch bar on a terminal, and one short line per phase anywhere.

The bar (loss, images/s, ETA) costs nothing when it is off: the loss shown is read back from
the device at most twice a second, never per step, so the bar does not make the GPU wait;
off a terminal, in CI or on ranks other than 0 it is a no-op object. `PhaseLog` writes one
line per phase or epoch with the seconds since the stage started, so a stage that runs for
minutes in a log (DVC, Prefect, CI) is never silent; stdout keeps only the stage's result.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, TextIO

from tqdm.auto import tqdm

if TYPE_CHECKING:
    import torch

    from traindev.training.trainer import EpochRecord

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


class PhaseLog:
    """`[evaluate lenet5  12.3s] bootstrap intervals`: one line per call, flushed at once.

    `stream` defaults to the current sys.stderr (read at each call, so pytest's capture and
    redirections see it); `enabled=False` makes it silent.
    """

    def __init__(self, stage: str, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stage, self.enabled, self.stream = stage, enabled, stream
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        stream = self.stream if self.stream is not None else sys.stderr
        print(f"[{self.stage} {elapsed:6.1f}s] {message}", file=stream, flush=True)


def epoch_line(record: EpochRecord, epochs: int) -> str:
    """One epoch's summary: the loss and the three monitored errors."""
    return (
        f"epoch {record.epoch}/{epochs}: loss {record.loss:.4f}, error train "
        f"{record.train_error:.2%} / train-dev {record.train_dev_error:.2%} / dev "
        f"{record.dev_error:.2%} ({record.seconds:.1f}s training)"
    )
