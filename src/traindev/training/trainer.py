"""Mini-batch training with per-epoch learning curves.

The hot loop does only what a hand-written PyTorch loop does, plus two on-device
accumulations (summed loss and correct count). Nothing is read back to the host
inside an epoch, so logging never stalls the device; per-epoch errors on
train / train-dev / dev are measured in eval mode after the epoch.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from traindev.config import TrainParams
from traindev.data.batches import BatchSource
from traindev.training.optimizers import build_optimizer


class NonFiniteLossError(RuntimeError):
    """Training diverged; the message says when, so the user can lower the learning rate."""


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    loss: float
    train_error: float
    train_dev_error: float
    dev_error: float
    lr: float
    seconds: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class TrainingResult:
    history: list[EpochRecord] = field(default_factory=list)
    train_seconds: float = 0.0  # time inside the optimization loop only
    examples_seen: int = 0

    @property
    def examples_per_second(self) -> float:
        return self.examples_seen / self.train_seconds if self.train_seconds else 0.0


def autocast_context(device: torch.device):
    """bf16 autocast on CUDA GPUs that support it; full precision elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def train_mode(model: nn.Module) -> None:
    """model.train(), except frozen layers (batch norm above all) stay in eval mode.

    A frozen, pretrained body is a fixed feature extractor: updating its batch-norm
    running statistics on the new task's data would change it after all.
    """
    model.train()
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if own and not any(parameter.requires_grad for parameter in own):
            module.eval()


class Trainer:
    """Fits one model with the optimizer and regularization in `train` params."""

    def __init__(self, model: nn.Module, params: TrainParams, device: torch.device) -> None:
        self.model = model.to(device)
        self.params = params
        self.device = device
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("every parameter is frozen: nothing to train")
        self.optimizer = build_optimizer(trainable, params)
        self.loss_fn = nn.functional.cross_entropy

    def train_epoch(self, batches: BatchSource, epoch: int) -> tuple[float, int]:
        """One pass over `batches`; returns (mean training loss, examples seen).

        The only extra work per step over a bare loop is keeping a reference to the detached
        loss; the losses are summed and read back once, at the end of the epoch.
        """
        train_mode(self.model)
        losses: list[torch.Tensor] = []  # detached, on the device: no per-step kernel or sync
        sizes: list[int] = []
        precision = autocast_context(self.device)
        for x, y in batches:
            with precision:
                loss = self.loss_fn(self.model(x), y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses.append(loss.detach())
            sizes.append(len(y))
        seen = sum(sizes)
        weights = torch.tensor(sizes, dtype=torch.float32, device=self.device)
        loss_sum = (torch.stack(losses).float() @ weights) if losses else torch.zeros(())
        mean_loss = loss_sum.item() / max(seen, 1)
        if not math.isfinite(mean_loss):
            raise NonFiniteLossError(
                f"training loss became {mean_loss} in epoch {epoch} "
                f"(lr {self.current_lr():g}); lower train.lr or add regularization"
            )
        return mean_loss, seen

    @torch.no_grad()
    def error(self, batches: BatchSource) -> float:
        """Error rate in eval mode (dropout off, batch-norm running statistics)."""
        if len(batches) == 0:
            return float("nan")
        self.model.eval()
        wrong = torch.zeros((), device=self.device, dtype=torch.long)
        for x, y in batches:
            with autocast_context(self.device):
                wrong += (self.model(x).argmax(1) != y).sum()
        return wrong.item() / len(batches)

    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def fit(
        self,
        train: BatchSource,
        monitor: dict[str, BatchSource],
        on_epoch: Callable[[EpochRecord], None] | None = None,
    ) -> TrainingResult:
        """Train for `params.epochs`; after each epoch measure the `monitor` splits' errors.

        `monitor` maps "train" (an eval-mode sample of the training split), "train_dev"
        and "dev" to batch sources; they drive the learning curves, never the weights.
        """
        result = TrainingResult()
        progress = tqdm(
            range(1, self.params.epochs + 1),
            desc="train",
            unit="epoch",
            disable=not sys.stderr.isatty(),
            leave=False,
        )
        for epoch in progress:
            started = time.perf_counter()
            loss, seen = self.train_epoch(train, epoch)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            elapsed = time.perf_counter() - started
            result.train_seconds += elapsed
            result.examples_seen += seen
            record = EpochRecord(
                epoch=epoch,
                loss=loss,
                train_error=self.error(monitor["train"]),
                train_dev_error=self.error(monitor["train_dev"]),
                dev_error=self.error(monitor["dev"]),
                lr=self.current_lr(),
                seconds=elapsed,
            )
            result.history.append(record)
            progress.set_postfix(loss=f"{loss:.4f}", dev_error=f"{record.dev_error:.2%}")
            if on_epoch is not None:
                on_epoch(record)
        return result
