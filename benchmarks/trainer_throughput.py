"""Training throughput of traindev's Trainer against a minimal hand-written PyTorch loop.

Same model initialization, data, batch size, optimizer and device; the two are
interleaved (bare, trainer, bare, trainer, ...) so machine noise hits both alike,
and the median epoch of each is compared. Run after `dvc repro` (it reads data/split):

    python benchmarks/trainer_throughput.py [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import torch
from torch import nn

import traindev  # noqa: F401  (quiet tool settings, OMP wait policy)
from traindev import paths
from traindev.config import load_params
from traindev.data.batches import TensorBatches, split_rows
from traindev.data.store import read_store
from traindev.models.registry import build_model
from traindev.training.optimizers import build_optimizer
from traindev.training.runtime import seed_everything, select_device
from traindev.training.trainer import Trainer


def bare_epoch(model: nn.Module, optimizer, x: torch.Tensor, y: torch.Tensor, batch: int) -> None:
    """The baseline: what anyone would write by hand."""
    model.train()
    order = torch.randperm(len(y), device=x.device)
    for start in range(0, len(y), batch):
        index = order[start : start + batch]
        loss = nn.functional.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    params = load_params()
    store = read_store(paths.SPLIT)
    device = select_device(params.train.device)
    rows = split_rows(store, "train")
    batch = params.train.batch_size
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, "
        f"{len(rows)} training examples, batch size {batch}"
    )
    print(f"{'architecture':<20}{'bare ex/s':>12}{'trainer ex/s':>14}{'ratio':>8}")
    for arch in params.train.architectures:
        seed_everything(0, deterministic=False)
        data = TensorBatches.from_store(store, rows, batch, device, shuffle=True, seed=0)
        bare_model = build_model(arch, params.model_params(arch), store.image_shape, 10).to(device)
        trainer_model = build_model(arch, params.model_params(arch), store.image_shape, 10)
        trainer_model.load_state_dict(bare_model.state_dict())
        bare_optimizer = build_optimizer(bare_model.parameters(), params.train)
        trainer = Trainer(trainer_model, params.train, device)
        # one warm-up epoch each (allocator, kernels), untimed
        bare_epoch(bare_model, bare_optimizer, data.x, data.y, batch)
        trainer.train_epoch(data, 0)
        bare_run = partial(bare_epoch, bare_model, bare_optimizer, data.x, data.y, batch)
        trainer_run = partial(trainer.train_epoch, data, 0)
        bare_times, trainer_times = [], []
        for _ in range(args.repeats * args.epochs):
            bare_times.append(timed(bare_run))
            trainer_times.append(timed(trainer_run))
        bare_rate = len(rows) / statistics.median(bare_times)
        trainer_rate = len(rows) / statistics.median(trainer_times)
        print(
            f"{arch:<20}{bare_rate:>12,.0f}{trainer_rate:>14,.0f}{trainer_rate / bare_rate:>8.3f}"
        )


if __name__ == "__main__":
    main()
