"""Mini-batch training: the notes' optimizers and regularizers, at full speed, resumable.

The hot loop does what a hand-written PyTorch loop does (forward under autocast, backward,
optional clipping, optimizer and per-step scheduler step) and keeps a reference to each
detached loss. Nothing is read back to the host inside an epoch, so logging never stalls
the device: losses are summed once at the epoch's end, which is also where a NaN or inf
is caught and traced to its step. Per-epoch errors on train / train-dev / dev are
measured in eval mode after the epoch.

Under torchrun the model is wrapped in DistributedDataParallel; each process sums the
loss over its share of the global batch and divides by the global batch size over the
world size, so DDP's gradient average equals the single-process mean gradient.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from traindev.config import TrainParams
from traindev.data.batches import BatchSource
from traindev.training.distributed import DistributedContext
from traindev.training.early_stopping import EarlyStopping
from traindev.training.objectives import Objective, SingleLabel
from traindev.training.optimizers import build_optimizer
from traindev.training.precision import choose_precision
from traindev.training.progress import EpochProgress, PhaseLog, epoch_line, progress_enabled
from traindev.training.schedules import build_scheduler
from traindev.training.state import TrainingState, capture_rng, restore_rng


class NonFiniteLossError(ArithmeticError):
    """Training diverged; the message says when, so the user can lower the learning rate."""


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    loss: float
    train_error: float
    train_dev_error: float
    dev_error: float
    lr: float  # at the end of the epoch (the schedule moves per step)
    seconds: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class TrainingResult:
    history: list[EpochRecord] = field(default_factory=list)
    train_seconds: float = 0.0  # time inside the optimization loop only
    examples_seen: int = 0  # by all processes
    stopped_early_at: int | None = None  # the epoch early stopping ended training
    restored_epoch: int | None = None  # the best dev epoch whose weights were kept
    resumed_from: int | None = None  # the completed epoch a checkpoint resumed

    @property
    def examples_per_second(self) -> float:
        return self.examples_seen / self.train_seconds if self.train_seconds else 0.0


def autocast_context(device: torch.device):
    """bf16 autocast on CUDA GPUs that support it; full precision elsewhere (inference)."""
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


def is_convolutional(model: nn.Module) -> bool:
    return any(isinstance(module, nn.Conv2d) for module in model.modules())


class Trainer:
    """Fits one model with the optimizer, schedule and regularization in `train` params."""

    def __init__(
        self,
        model: nn.Module,
        params: TrainParams,
        device: torch.device,
        objective: Objective | None = None,
        context: DistributedContext | None = None,
    ) -> None:
        self.params, self.device = params, device
        self.context = context or DistributedContext()
        self.channels_last = (
            params.channels_last and device.type == "cuda" and is_convolutional(model)
        )
        self.model = model.to(device)  # the plain module: state dicts, evaluation
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("every parameter is frozen: nothing to train")
        self.trainable = trainable
        self.network: nn.Module = self.model  # what the training step calls
        if self.context.world > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.network = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if params.compile:
            self.network = torch.compile(self.network)
        self.optimizer = build_optimizer(trainable, params)
        self.precision = choose_precision(params.precision, device)
        self.scaler = self.precision.grad_scaler()
        self.objective = objective or SingleLabel()
        self.scheduler: torch.optim.lr_scheduler.LambdaLR | None = None
        self.early_stopping = EarlyStopping(params.early_stopping)

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def _ensure_scheduler(self, steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
        if self.scheduler is None:
            self.scheduler = build_scheduler(
                self.optimizer, self.params.schedule, self.params.epochs, steps_per_epoch
            )
        return self.scheduler

    def train_epoch(self, batches: BatchSource, epoch: int) -> tuple[float, int]:
        """One pass over `batches`; returns (mean training loss, examples seen by all ranks)."""
        scheduler = self._ensure_scheduler(batches.num_batches)
        train_mode(self.model)
        if hasattr(batches, "set_epoch"):
            batches.set_epoch(epoch)
        world = self.context.world
        global_sizes = batches.sampler.global_sizes() if world > 1 else None
        losses: list[torch.Tensor] = []  # detached sums, on the device: no per-step sync
        lrs: list[float] = []
        seen = 0
        progress = EpochProgress(
            progress_enabled(self.params.progress, self.context.is_main),
            epoch,
            self.params.epochs,
            len(batches),
        )
        clip = self.params.clip_grad_norm
        scaling = self.scaler.is_enabled()
        schedule = self.params.schedule
        scheduled = schedule.name != "constant" or schedule.warmup_epochs > 0
        for step, (x, y) in enumerate(batches):
            lrs.append(self.current_lr())
            with self.precision.autocast():
                total = self.objective.loss_sum(self.network(self._input(x)), y)
            # sum / (global batch / world), averaged by DDP: the mean over the global batch
            denominator = len(y) if global_sizes is None else global_sizes[step] / world
            self.optimizer.zero_grad(set_to_none=True)
            if scaling:
                self.scaler.scale(total / denominator).backward()
                if clip is not None:
                    self.scaler.unscale_(self.optimizer)
                    nn.utils.clip_grad_norm_(self.trainable, clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:  # the common case, without the scaler's per-step bookkeeping
                (total / denominator).backward()
                if clip is not None:
                    nn.utils.clip_grad_norm_(self.trainable, clip)
                self.optimizer.step()
            if scheduled:
                scheduler.step()
            losses.append(total.detach())
            seen += len(y)
            progress.step(len(y), world, losses[-1], lrs[-1])
        progress.close()
        stacked = torch.stack(losses).float() if losses else torch.zeros(1, device=self.device)
        totals = self.context.sum(
            torch.stack([stacked.sum(), torch.tensor(float(seen), device=stacked.device)])
        )
        loss_sum, examples = totals.tolist()
        mean_loss = loss_sum / max(examples, 1)
        if not math.isfinite(mean_loss):
            self._raise_non_finite(stacked, lrs, epoch, mean_loss)
        return mean_loss, int(examples)

    def _raise_non_finite(
        self, losses: torch.Tensor, lrs: list[float], epoch: int, mean_loss: float
    ) -> None:
        bad = torch.nonzero(~torch.isfinite(losses)).flatten()
        step = int(bad[0]) + 1 if len(bad) else len(lrs)
        lr = lrs[step - 1] if lrs else self.current_lr()
        kept = "the checkpoint of the last good epoch is kept" if epoch > 1 else "no epoch finished"
        raise NonFiniteLossError(
            f"training loss became {mean_loss} in epoch {epoch} at step {step} "
            f"(lr {lr:g}); {kept}; lower train.lr, add train.clip_grad_norm or regularization"
        )

    @torch.no_grad()
    def error(self, batches: BatchSource) -> float:
        """Error rate in eval mode (dropout off, batch-norm running statistics), all ranks."""
        self.model.eval()
        counts = torch.zeros(2, device=self.device, dtype=torch.float64)
        for x, y in batches:
            with self.precision.autocast():
                wrong, scored = self.objective.mistakes(self.model(self._input(x)), y)
            counts[0] += wrong
            counts[1] += scored
        wrong, scored = self.context.sum(counts).tolist()
        return wrong / scored if scored else float("nan")

    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def fit(
        self,
        train: BatchSource,
        monitor: dict[str, BatchSource],
        on_epoch: Callable[[EpochRecord], None] | None = None,
        on_checkpoint: Callable[[TrainingState], None] | None = None,
        resume: TrainingState | None = None,
        fingerprint: dict | None = None,
    ) -> TrainingResult:
        """Train for `params.epochs` (or until early stopping), from `resume` if given.

        `monitor` maps "train" (an eval-mode sample of the training split), "train_dev"
        and "dev" to batch sources; they drive the learning curves and early stopping,
        never the weights. `on_checkpoint` receives the full state after every epoch.
        """
        self._ensure_scheduler(train.num_batches)
        result = TrainingResult()
        first_epoch = 1
        if resume is not None:
            self.load_state(resume)
            result.history = [EpochRecord(**record) for record in resume.history]
            result.train_seconds, result.examples_seen = resume.train_seconds, resume.examples_seen
            result.resumed_from = resume.epoch
            first_epoch = resume.epoch + 1
        # One line per epoch (the bar above is for terminals only): `progress: never` mutes it.
        log = PhaseLog("train", self.params.progress != "never" and self.context.is_main)
        for epoch in range(first_epoch, self.params.epochs + 1):
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
            log(epoch_line(record, self.params.epochs))
            stop = self.early_stopping.update(epoch, record.dev_error, self.model)
            if on_epoch is not None:
                on_epoch(record)
            if on_checkpoint is not None:
                on_checkpoint(self.state(epoch, result, fingerprint or {}))
            if stop:
                result.stopped_early_at = epoch
                break
        result.restored_epoch = self.early_stopping.restore(self.model)
        return result

    def state(self, epoch: int, result: TrainingResult, fingerprint: dict) -> TrainingState:
        """A snapshot of everything the next epoch depends on (the caller adds the run id).

        Copied, not aliased: the live tensors keep changing (or turn NaN) after this returns.
        """
        return TrainingState(
            fingerprint=fingerprint,
            epoch=epoch,
            model={
                name: value.detach().to("cpu", copy=True)
                for name, value in self.model.state_dict().items()
            },
            optimizer=copy.deepcopy(self.optimizer.state_dict()),
            scheduler=self.scheduler.state_dict() if self.scheduler else {},
            scaler=self.scaler.state_dict(),
            rng=capture_rng(),
            history=[record.as_dict() for record in result.history],
            early_stopping=self.early_stopping.state_dict(),
            train_seconds=result.train_seconds,
            examples_seen=result.examples_seen,
        )

    def load_state(self, state: TrainingState) -> None:
        self.model.load_state_dict(state.model)
        self.optimizer.load_state_dict(state.optimizer)
        if self.scheduler is not None and state.scheduler:
            self.scheduler.load_state_dict(state.scheduler)
        if state.scaler:
            self.scaler.load_state_dict(state.scaler)
        self.early_stopping.load_state_dict(state.early_stopping)
        restore_rng(state.rng)
