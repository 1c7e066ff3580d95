"""Augmentation throughput, and what it costs training, on the project's own data.

Method. Reads the split store (`data/split`, from `dvc repro`) and the train params from
params.yaml; the augmentation is `train.augment` with `enabled: true` (the `notes` preset
unless params.yaml names another).

1. Per transform, both backends: each preset transform alone (always applied) and the whole
   pipeline (its own probabilities), on `images` training images.
   - albumentations: one process augments them one at a time, as a DataLoader worker does
     (seeded per image, exactly `Augmenter.__call__`): images per second per worker.
   - batched: one process (torch's default threads) augments them as the train stage does:
     in memory a chunk of whole batches per call (`chunk_rows`), streamed one batch of
     `train.batch_size` per call: images per second per process, for each.
2. Training: each model of `--arch` (default lenet5 and deep_nn, as params.yaml configures
   them) is trained on the train split with augmentation off (the split held in memory) and
   on with the DEFAULT backend (`train.augment.backend`, auto: batched when every transform
   translates) and default workers (`train.num_workers`), in the same process. After one
   untimed warm-up epoch each, `repeats` timed epochs of each are interleaved. With the
   albumentations backend torch gets the cores the workers leave (`cpu_threads_beside`), as
   in the train stage. Reported: median examples per second of each and the median over
   neighbouring (off, on) epoch pairs of on / off (goal: at least 0.9: training must not
   become input-bound), with the pairs' quartiles (an epoch is a fifth of a second here).
   A third run reads offline copies (`train.augment.offline_copies`, one per epoch, written
   as the augment stage writes them, untimed): what training costs when nothing is
   augmented on the fly.
3. `--dev-error`: trains each model for `train.epochs` from the same seed with augmentation
   off and on, and prints the dev error of each (what decided `enabled: false`).

    python benchmarks/augmentation_throughput.py [--quick] [--arch lenet5 deep_nn]
        [--backend auto|batched|albumentations] [--threads N] [--dev-error]

`--quick` (about a minute on 2 cores): 300 images per transform, 1 timed epoch each.
`--dry-run` (seconds): a tiny split of the embedded digits made in a temporary folder by the
ingest, synthesize and split stages' own code, 32 images per transform, deep_nn, 1 epoch.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from benchmark_record import add_arguments, figure, open_run

import traindev  # noqa: F401  (quiet tool settings)
from traindev import paths
from traindev.config import Params, TrainParams
from traindev.data.augmentation import Augmenter, alone, make_augmenter
from traindev.data.batch_augmentation import chunk_rows
from traindev.data.batches import (
    cpu_threads_beside,
    loader_workers,
    make_batches,
    split_rows,
    to_model_input,
)
from traindev.data.materialize import materialize
from traindev.data.store import ImageStore, read_store
from traindev.models.registry import build_model
from traindev.params_file import load_params
from traindev.stages import ingest, split, synthesize
from traindev.stages.train import SplitBatches
from traindev.training.distributed import DistributedContext
from traindev.training.runtime import seed_everything
from traindev.training.trainer import Trainer

GOAL = 0.9  # training examples/s with augmentation over without
CPU = torch.device("cpu")


def with_backend(params: TrainParams, backend: str) -> TrainParams:
    augment = params.augment.model_copy(update={"backend": backend})
    return params.model_copy(update={"augment": augment})


def per_worker(store: ImageStore, params: TrainParams, images: int) -> list[tuple[str, float]]:
    """albumentations: (transform, images/s in one process) for each transform alone, then
    the pipeline."""
    augmenter = make_augmenter(with_backend(params, "albumentations").augment, store, params.seed)
    rows = split_rows(store, "train")[:images]
    pixels = np.asarray(store.pixels[rows])
    floats = augmenter.to_float(pixels)
    results = []
    for spec, transform in zip(augmenter.specs, augmenter.pipeline.transforms, strict=True):
        single = alone(transform)
        single.set_random_seed(0)
        single(image=floats[0])  # warm-up: first-call caches
        start = time.perf_counter()
        for image in floats:
            single(image=image)
        results.append((spec.name, len(floats) / (time.perf_counter() - start)))
    augmenter(pixels[:8], rows[:8], epoch=0)
    start = time.perf_counter()
    augmenter(pixels, rows, epoch=1)
    results.append(("whole pipeline", len(rows) / (time.perf_counter() - start)))
    return results


def batched_rate(augment, x: torch.Tensor, rows: torch.Tensor, size: int) -> float:
    """Images per second through `augment`, `size` images per call (median of 3 passes)."""
    augment(x[:size], rows[:size], 0)  # warm-up
    rates = []
    for epoch in (1, 2, 3):
        start = time.perf_counter()
        for first in range(0, len(x), size):
            augment(x[first : first + size], rows[first : first + size], epoch)
        rates.append(len(x) / (time.perf_counter() - start))
    return statistics.median(rates)


def per_process(
    store: ImageStore, params: TrainParams, images: int
) -> list[tuple[str, float, float]]:
    """batched: (transform, images/s chunked as in memory, images/s one batch per call)."""
    augmenter = make_augmenter(with_backend(params, "batched").augment, store, params.seed)
    rows = split_rows(store, "train")
    rows = rows[np.arange(max(images, 1)) % len(rows)]  # enough images for a chunk
    x = to_model_input(torch.from_numpy(np.asarray(store.pixels[rows])), store.pixel_max)
    index = torch.from_numpy(rows.astype(np.int64))
    batch = int(params.batch_size)
    chunk = min(chunk_rows(batch, store.image_shape), len(x))
    results = []
    for i, spec in enumerate(augmenter.specs):
        single = augmenter.alone(i)
        results.append((spec.name, *(batched_rate(single, x, index, n) for n in (chunk, batch))))
    whole = tuple(batched_rate(augmenter, x, index, n) for n in (chunk, batch))
    results.append(("whole pipeline", *whole))
    return results


def trainer_for(store: ImageStore, architecture: str, params: TrainParams, model_params) -> Trainer:
    seed_everything(params.seed, params.deterministic)
    model = build_model(architecture, model_params, store.image_shape, len(store.classes))
    return Trainer(model, params, CPU)


def batches(store: ImageStore, params: TrainParams, augmented: bool, workers: int):
    augmenter = make_augmenter(params.augment, store, params.seed) if augmented else None
    return make_batches(
        store,
        "train",
        int(params.batch_size),
        CPU,
        params.in_memory_max_mb,
        shuffle=True,
        seed=params.seed,
        num_workers=workers,
        augment=augmenter,
    )


def on_threads(augmenter, workers: int) -> int:
    """Torch threads with augmentation on, as the train stage sets them."""
    if isinstance(augmenter, Augmenter):
        return cpu_threads_beside(max(1, workers))
    return torch.get_num_threads()


def offline_batches(store: ImageStore, params: TrainParams, copies: int, scratch: Path):
    """The train stage's batches over `copies` offline copies (the augment stage's store)."""
    augment = params.augment.model_copy(update={"offline_copies": copies})
    offline_params = params.model_copy(update={"augment": augment})
    materialize(store, offline_params, scratch / "augmented")
    offline = read_store(scratch / "augmented")
    return SplitBatches(store, offline_params, CPU, DistributedContext(), offline=offline)


def training_throughput(
    store: ImageStore, params: TrainParams, architecture: str, model_params, repeats: int
) -> dict:
    workers = loader_workers(params.num_workers)
    scratch = tempfile.TemporaryDirectory()
    runs = {
        name: (
            trainer_for(store, architecture, params, model_params),
            batches(store, params, on, workers),
        )
        for name, on in (("off", False), ("on", True))
    }
    offline = offline_batches(store, params, repeats + 1, Path(scratch.name))
    runs["offline"] = (trainer_for(store, architecture, params, model_params), offline.training())
    augmenter = make_augmenter(params.augment, store, params.seed)
    threads = {
        "off": torch.get_num_threads(),
        "on": on_threads(augmenter, workers),
        "offline": torch.get_num_threads(),
    }
    rates: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for epoch in range(repeats + 1):
        order = names[epoch % 3 :] + names[: epoch % 3]  # each in every position in turn
        for name in order:
            trainer, source = runs[name]
            torch.set_num_threads(threads[name])  # as the train stage sets them
            start = time.perf_counter()
            _, seen = trainer.train_epoch(source, epoch + 1)
            if epoch:  # the first epoch of each is the warm-up
                rates[name].append(seen / (time.perf_counter() - start))
    torch.set_num_threads(threads["off"])
    scratch.cleanup()
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    # Each timed epoch on is paired with the epoch off next to it: the median of the pairs'
    # ratios follows the goal's definition and cancels slow drifts in what shares the cores.
    pairs = [a / b for a, b in zip(rates["on"], rates["off"], strict=True)]
    paired = statistics.median(pairs)
    offline_pairs = [a / b for a, b in zip(rates["offline"], rates["off"], strict=True)]
    streams = not isinstance(runs["on"][1], type(runs["off"][1]))
    return {
        "backend": augmenter.backend,
        "workers": workers if isinstance(augmenter, Augmenter) or streams else 0,
        "threads": threads,
        "off": off,
        "on": on,
        "ratio": paired,
        # An epoch of the default split is a fifth of a second: single pairs scatter by +-20%
        # on a shared 2-core VM, so the spread is printed beside the median.
        "pair_quartiles": statistics.quantiles(pairs, n=4)[::2] if len(pairs) > 1 else pairs,
        "offline": statistics.median(rates["offline"]),
        "offline_ratio": statistics.median(offline_pairs),
    }


def dev_errors(store: ImageStore, params: TrainParams, architecture: str, model_params) -> dict:
    workers = loader_workers(params.num_workers)
    threads = torch.get_num_threads()
    dev = make_batches(store, "dev", 1024, CPU, params.in_memory_max_mb)
    errors = {}
    for name, on in (("off", False), ("on", True)):
        augmenter = make_augmenter(params.augment, store, params.seed)
        torch.set_num_threads(on_threads(augmenter, workers) if on else threads)
        trainer = trainer_for(store, architecture, params, model_params)
        source = batches(store, params, on, workers)
        start = time.perf_counter()
        for epoch in range(1, params.epochs + 1):
            trainer.train_epoch(source, epoch)
        errors[name] = {"dev_error": trainer.error(dev), "seconds": time.perf_counter() - start}
    torch.set_num_threads(threads)
    return errors


def tiny_split(project: Params, directory: Path) -> Path:
    """The embedded digits and 100 synthetic ones, split by the stages' own code under
    `directory`, none of the real ones in train (for a dry run: no `dvc repro`, tiny epochs)."""
    with contextlib.chdir(directory):
        ingest.run(project.ingest)
        synthesize.run(project.synthesize.model_copy(update={"count": 100}))
        no_target = project.split.model_copy(update={"target_to_train": 0.0})
        split.run(project.model_copy(update={"split": no_target}))
    return directory / paths.SPLIT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of about a minute")
    parser.add_argument(
        "--arch", nargs="+", default=["lenet5", "deep_nn"], help="models trained (lenet5 deep_nn)"
    )
    parser.add_argument("--backend", help="train.augment.backend (default: params.yaml's)")
    parser.add_argument(
        "--threads", type=int, help="torch threads (default torch's; 1 is steadier on a shared box)"
    )
    parser.add_argument("--images", type=int, help="images per transform (default 2000)")
    parser.add_argument("--repeats", type=int, help="timed epochs each (default 8)")
    parser.add_argument("--dev-error", action="store_true", help="also train off and on fully")
    parser.add_argument("--split", type=Path, default=paths.SPLIT, help="the split store")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.dry_run:
        args.images, args.repeats, args.arch, args.dev_error = 32, 1, ["deep_nn"], False
    bench = open_run(__file__, args, argv)
    images = args.images or (300 if args.quick else 2000)
    repeats = args.repeats or (1 if args.quick else 8)
    if args.threads:
        torch.set_num_threads(args.threads)

    project = load_params()
    update = {"enabled": True} | ({"backend": args.backend} if args.backend else {})
    train = project.train.model_copy(
        update={"augment": project.train.augment.model_copy(update=update)}
    )
    scratch = tempfile.TemporaryDirectory(prefix="augmentation-bench-")
    split_dir = tiny_split(project, Path(scratch.name)) if args.dry_run else args.split
    store = read_store(split_dir)
    print(
        f"data: {split_dir}, {len(split_rows(store, 'train'))} training images of "
        f"{'x'.join(map(str, store.image_shape))} (C x H x W); torch threads "
        f"{torch.get_num_threads()}; preset {train.augment.preset}; "
        f"backend {train.augment.backend}; load average {os.getloadavg()[0]:.2f} "
        "(above the cores: other work shares them, and the figures below are noisy)"
    )

    print(f"\naugmentation throughput, images/s, {images} images per transform:")
    albumentations = dict(per_worker(store, train, images))
    batched = per_process(store, train, images)
    chunk = min(chunk_rows(int(train.batch_size), store.image_shape), max(images, 1))
    print(
        f"  {'transform':26s} {'albumentations':>15s} {'batched':>15s} {'batched':>15s}\n"
        f"  {'':26s} {'(per worker)':>15s} {f'({chunk} per call)':>15s} "
        f"{f'({train.batch_size} per call)':>15s}"
    )
    for name, chunked, per_batch in batched:
        print(f"  {name:26s} {albumentations[name]:15,.0f} {chunked:15,.0f} {per_batch:15,.0f}")
    results: dict = {
        "per_worker_albumentations": albumentations,
        "per_process_batched": {name: {"chunk": c, "batch": b} for name, c, b in batched},
        "training": {},
    }

    for architecture in args.arch:
        model_params = project.model_params(architecture)
        print(f"\ntraining {architecture}, batch {train.batch_size}, {repeats} timed epochs each:")
        speed = training_throughput(store, train, architecture, model_params, repeats)
        on_label = (
            f"on ({speed['backend']}, {speed['workers']} worker(s), "
            f"{speed['threads']['on']} torch thread(s))"
        )
        print(f"  {'off (split in memory)':48s} {speed['off']:9,.0f} examples/s")
        print(f"  {on_label:48s} {speed['on']:9,.0f} examples/s")
        verdict = "meets" if speed["ratio"] >= GOAL else "MISSES"
        print(
            f"  {f'offline ({repeats + 1} copies from the augment stage)':48s} "
            f"{speed['offline']:9,.0f} examples/s (ratio {speed['offline_ratio']:.2f})"
        )
        low, high = speed["pair_quartiles"][0], speed["pair_quartiles"][-1]
        print(
            f"  ratio on / off: {speed['ratio']:.2f} ({verdict} the goal of {GOAL}); "
            f"epoch pairs' quartiles {low:.2f}-{high:.2f}"
        )
        results["training"][architecture] = speed
        if args.dev_error:
            print(f"  dev error after {train.epochs} epochs:")
            errors = dev_errors(store, train, architecture, model_params)
            results.setdefault("dev_error", {})[architecture] = errors
            for name, figures in errors.items():
                print(
                    f"    augmentation {name:3s}: {figures['dev_error']:.2%} "
                    f"({figures['seconds']:.0f} s)"
                )
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    scratch.cleanup()
    bench.write(record_figures(results), results, args.out)
    return 0


def record_figures(results: dict) -> list:
    """Training with augmentation on the fly (and offline) against training without it."""
    out = []
    for architecture, speed in results["training"].items():
        for name, label in (("on", f"on the fly ({speed['backend']})"), ("offline", "offline")):
            out.append(
                figure(
                    f"{architecture} training, augmentation {label}",
                    speed[name],
                    "examples/s",
                    baseline=speed["off"],
                    baseline_name="augmentation off",
                    goal=f"ratio >= {GOAL}" if name == "on" else None,
                    goal_met=speed["ratio"] >= GOAL if name == "on" else None,
                )
            )
    for name, rate in results["per_worker_albumentations"].items():
        batched = results["per_process_batched"][name]["chunk"]
        out.append(
            figure(
                f"augment {name}, batched (one process, chunks)",
                batched,
                "images/s",
                baseline=rate,
                baseline_name="albumentations, one worker",
            )
        )
    for architecture, errors in results.get("dev_error", {}).items():
        out.append(
            figure(
                f"{architecture} dev error, augmentation on",
                errors["on"]["dev_error"],
                "error",
                baseline=errors["off"]["dev_error"],
                baseline_name="augmentation off",
            )
        )
    return out


if __name__ == "__main__":
    sys.exit(main())
