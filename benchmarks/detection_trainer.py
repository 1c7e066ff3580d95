"""Training throughput of traindev's Trainer on a YOLO detector against a bare PyTorch loop.

Method. The embedded default's canvases are built from scikit-learn's real handwritten digits
(64x64, 1 to 4 digits each, the canvas params' defaults), their YOLO targets encoded once on an
8x8 grid with 5 anchors from k-means on the boxes. One small Darknet YOLO (the `yolo` detector's
defaults: darknet_small backbone, 128-wide head) is copied, so both start from the same
initialization:

- the trainer: `Trainer.train_epoch` with `YoloObjective` over a shuffled `DetectionBatches`
  (uint8 canvases on the device, converted per batch; the targets encoded once), whole epochs;
- the bare loop: what a practitioner writes by hand with the same settings: float images and
  targets already on the device, a fresh random permutation per epoch, `yolo_loss`, SGD with
  the same momentum, `zero_grad(set_to_none=True)`, the same autocast dtype.

One untimed warm-up epoch each, then `repeats` timed epochs of each, interleaved (alternating
which goes first) so that machine noise hits both alike, with the helpers of
trainer_throughput.py. Reported: the median images/s of each and the ratio trainer / bare
(goal: at least 0.95).

    python benchmarks/detection_trainer.py --threads 1 --repeats 9   # 256 canvases, batch 32
    python benchmarks/detection_trainer.py --dry-run    # 8 canvases, seconds
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import numpy as np
import torch
from benchmark_record import Figure, Run, add_arguments, figure, open_run
from torch import nn
from trainer_throughput import GOAL, timed

import traindev  # noqa: F401  (quiet tool settings)
from traindev.config import CanvasParams, TrainParams
from traindev.data.batches import to_model_input
from traindev.data.sources.sklearn_digits import (
    DIGIT_CLASSES,
    DIGITS_PIXEL_MAX,
    load_sklearn_digits,
)
from traindev.data.store import ImageStore
from traindev.tasks.detection.batches import DetectionBatches, store_targets
from traindev.tasks.detection.canvases import build_canvases
from traindev.tasks.detection.losses import yolo_loss
from traindev.tasks.detection.models.registry import build_detector
from traindev.tasks.detection.objective import YoloObjective
from traindev.tasks.detection.targets import YoloTargets
from traindev.training.precision import choose_precision
from traindev.training.runtime import device_description, seed_everything, select_device
from traindev.training.trainer import Trainer

SEED = 0
LR = 1e-3
GRID, ANCHORS = 8, 5  # darknet_small's stride 8 on a 64x64 canvas gives the 8x8 grid


@dataclass
class Result:
    canvases: int
    batch_size: int
    repeats: int
    parameters: int
    bare_images_per_s: float
    trainer_images_per_s: float
    ratio: float
    bare_seconds: list[float]
    trainer_seconds: list[float]


def canvas_store(count: int) -> tuple[ImageStore, object]:
    """`count` default canvases of the real digits, all in the train split, and their boxes."""
    manifest, pixels = load_sklearn_digits("handwritten")
    digits = ImageStore(manifest, pixels, DIGIT_CLASSES, DIGITS_PIXEL_MAX)
    made = build_canvases([(digits, count)], CanvasParams(seed=SEED))
    canvases = made.manifest.assign(split="train")
    return ImageStore(canvases, made.pixels, made.classes, made.pixel_max), made.boxes


def bare_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    anchors: torch.Tensor,
    batch_size: int,
    dtype: torch.dtype | None,
) -> None:
    """The baseline: one epoch of YOLO as anyone would write it by hand."""
    model.train()
    order = torch.randperm(len(y), device=x.device)
    autocast = (
        (lambda: torch.autocast(x.device.type, dtype=dtype)) if dtype is not None else nullcontext
    )
    for start in range(0, len(y), batch_size):
        index = order[start : start + batch_size]
        with autocast():
            loss = yolo_loss(model(x[index]), y[index], anchors)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def measure(
    count: int, batch_size: int, repeats: int, device: torch.device, precision: str
) -> Result:
    """Median images/s of the bare loop and the trainer on the same canvases and weights."""
    store, boxes = canvas_store(count)
    rows = np.arange(len(store.manifest))
    targets = YoloTargets.from_training_boxes(
        store_targets(store, rows, boxes), (64, 64), GRID, len(store.classes), ANCHORS, SEED
    )
    seed_everything(SEED, deterministic=False)
    model = build_detector("yolo", {}, (1, 64, 64), len(store.classes), grid=GRID, num_anchors=5)
    bare_model = copy.deepcopy(model).to(device)  # identical initial weights
    params = TrainParams(
        architectures=["deep_nn"],  # the trainer reads only the optimization settings
        batch_size=batch_size,
        optimizer="momentum",
        lr=LR,
        l2=0.0,  # the bare loop has no weight decay
        deterministic=False,
        precision=precision,
        progress="never",
        seed=SEED,
    )
    trainer = Trainer(model, params, device, objective=YoloObjective(targets))
    batches = DetectionBatches(
        store, rows, boxes, targets, batch_size=batch_size, device=device, shuffle=True, seed=SEED
    )
    bare_optimizer = torch.optim.SGD(bare_model.parameters(), lr=LR, momentum=params.momentum)
    x = to_model_input(torch.from_numpy(store.pixels).to(device), store.pixel_max)
    y, anchors = batches.y, targets.anchors.to(device)
    dtype = trainer.precision.dtype
    epoch = 0

    def run_bare() -> None:
        bare_epoch(bare_model, bare_optimizer, x, y, anchors, batch_size, dtype)

    def run_trainer() -> None:
        nonlocal epoch
        epoch += 1
        trainer.train_epoch(batches, epoch)

    run_bare()  # warm-up, untimed
    run_trainer()
    bare_times: list[float] = []
    trainer_times: list[float] = []
    for repeat in range(repeats):
        pair = [(run_bare, bare_times), (run_trainer, trainer_times)]
        for fn, times in pair if repeat % 2 == 0 else reversed(pair):
            times.append(timed(fn, device))
    bare_rate = count / statistics.median(bare_times)
    trainer_rate = count / statistics.median(trainer_times)
    return Result(
        canvases=count,
        batch_size=batch_size,
        repeats=repeats,
        parameters=sum(p.numel() for p in model.parameters()),
        bare_images_per_s=bare_rate,
        trainer_images_per_s=trainer_rate,
        ratio=trainer_rate / bare_rate,
        bare_seconds=bare_times,
        trainer_seconds=trainer_times,
    )


def record_figures(result: Result) -> list[Figure]:
    return [
        figure(
            f"YOLO darknet_small 64x64 (batch {result.batch_size}): trainer",
            result.trainer_images_per_s,
            "images/s",
            baseline=result.bare_images_per_s,
            baseline_name="bare PyTorch loop",
            goal=f"ratio >= {GOAL}",
            goal_met=result.ratio >= GOAL,
        )
    ]


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument("--canvases", type=int, default=256, help="canvases per epoch")
    parse.add_argument("--batch-size", type=int, default=32)
    parse.add_argument("--repeats", type=int, default=5, help="timed epochs of each")
    parse.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parse.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parse.add_argument(
        "--threads",
        type=int,
        help="torch intra-op threads (default torch's); 1 on a busy shared CPU, where a "
        "second OpenMP thread mostly waits and makes every timing noisier",
    )
    add_arguments(parse)
    return parse


DRY_RUN = ["--canvases", "8", "--batch-size", "4", "--repeats", "1", "--threads", "1"]


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark; returns the report (also printed, and written as its record)."""
    args = parser().parse_args(argv)
    if args.dry_run:
        args = parser().parse_args(
            [*DRY_RUN, "--device", "cpu", *(sys.argv[1:] if argv is None else argv)]
        )
    if min(args.canvases, args.batch_size, args.repeats) < 1:
        parser().error("--canvases, --batch-size and --repeats must be >= 1")
    bench = open_run(__file__, args, argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads or threads)
    try:
        return run(bench, args)
    finally:
        torch.set_num_threads(threads)  # a dry run inside the test process leaves it as it was


def run(bench: Run, args: argparse.Namespace) -> dict:
    """Measure and write the record, on the threads `main` set."""
    device = select_device(args.device)
    precision = choose_precision(args.precision, device).name
    print(f"device     {device_description(device)}\nprecision  {precision}")
    result = measure(args.canvases, args.batch_size, args.repeats, device, args.precision)
    print(
        f"{result.canvases} canvases, batch {result.batch_size}, {result.parameters:,} params: "
        f"bare {result.bare_images_per_s:,.1f} img/s, trainer "
        f"{result.trainer_images_per_s:,.1f} img/s, ratio {result.ratio:.3f} "
        f"(goal >= {GOAL}: {'met' if result.ratio >= GOAL else 'NOT met'})"
    )
    report = {
        "device": device_description(device),
        "torch": torch.__version__,
        "precision": precision,
        "threads": torch.get_num_threads(),
        "goal": GOAL,
        "goal_met": result.ratio >= GOAL,
        "result": asdict(result),
    }
    bench.write(record_figures(result), report, args.out)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
