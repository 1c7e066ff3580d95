"""Augmentation throughput, and what it costs training, on the project's own data.

Method. Reads the split store (`data/split`, from `dvc repro`) and the train params from
params.yaml; the augmentation is `train.augment` with `enabled: true` (the `notes` preset
unless params.yaml names another).

1. Per worker: one process augments `images` training images, one at a time as a DataLoader
   worker does, with each preset transform alone (always applied) and with the whole pipeline
   (its own probabilities, a seed per image, exactly `Augmenter.__call__`). Images per second
   is the rate one worker sustains.
2. Training: one model (`--arch`, default lenet5, as params.yaml configures it) is trained on
   the train split with augmentation off (the train stage's path: the split held in memory)
   and on (streamed through `train.num_workers` DataLoader workers, `auto` by default, which
   augment while the model trains), in the same process. After one untimed warm-up epoch each
   (worker start-up, allocator), `repeats` timed epochs of each are interleaved. With
   augmentation on, torch gets the cores the workers leave (`cpu_threads_beside`), as in the
   train stage. Reported:
   median examples per second of each and the ratio on / off (goal: at least 0.9).
3. `--dev-error`: trains the model for `train.epochs` from the same seed with augmentation off
   and on, and prints the dev error of each (what decided `enabled: false` in params.yaml).

    python benchmarks/augmentation_throughput.py [--quick] [--arch deep_nn] [--dev-error]

`--quick` (under a minute on 2 cores): 300 images per transform, 1 timed epoch each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

import traindev  # noqa: F401  (quiet tool settings)
from traindev import paths
from traindev.config import TrainParams, load_params
from traindev.data.augmentation import alone, make_augmenter
from traindev.data.batches import cpu_threads_beside, loader_workers, make_batches, split_rows
from traindev.data.store import ImageStore, read_store
from traindev.models.registry import build_model
from traindev.training.runtime import seed_everything
from traindev.training.trainer import Trainer

GOAL = 0.9  # training examples/s with augmentation over without
CPU = torch.device("cpu")


def per_worker(store: ImageStore, params: TrainParams, images: int) -> list[tuple[str, float]]:
    """(transform, images/s in one process) for each transform alone, then the pipeline."""
    augmenter = make_augmenter(params.augment, store, params.seed)
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
    results.append(
        ("whole pipeline (its p, seeded per image)", len(rows) / (time.perf_counter() - start))
    )
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


def training_throughput(
    store: ImageStore, params: TrainParams, architecture: str, model_params, repeats: int
) -> dict:
    workers = loader_workers(params.num_workers)
    threads = {"off": torch.get_num_threads(), "on": cpu_threads_beside(max(1, workers))}
    runs = {
        name: (
            trainer_for(store, architecture, params, model_params),
            batches(store, params, on, workers),
        )
        for name, on in (("off", False), ("on", True))
    }
    rates: dict[str, list[float]] = {"off": [], "on": []}
    for epoch in range(repeats + 1):
        order = ("off", "on") if epoch % 2 == 0 else ("on", "off")
        for name in order:
            trainer, source = runs[name]
            torch.set_num_threads(threads[name])  # as the train stage sets them
            start = time.perf_counter()
            _, seen = trainer.train_epoch(source, epoch + 1)
            if epoch:  # the first epoch of each is the warm-up
                rates[name].append(seen / (time.perf_counter() - start))
    torch.set_num_threads(threads["off"])
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    return {"workers": workers, "threads": threads, "off": off, "on": on, "ratio": on / off}


def dev_errors(store: ImageStore, params: TrainParams, architecture: str, model_params) -> dict:
    workers = loader_workers(params.num_workers)
    threads = torch.get_num_threads()
    dev = make_batches(store, "dev", 1024, CPU, params.in_memory_max_mb)
    errors = {}
    for name, on in (("off", False), ("on", True)):
        torch.set_num_threads(cpu_threads_beside(max(1, workers)) if on else threads)
        trainer = trainer_for(store, architecture, params, model_params)
        source = batches(store, params, on, workers)
        start = time.perf_counter()
        for epoch in range(1, params.epochs + 1):
            trainer.train_epoch(source, epoch)
        errors[name] = {"dev_error": trainer.error(dev), "seconds": time.perf_counter() - start}
    torch.set_num_threads(threads)
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of under a minute")
    parser.add_argument("--arch", default="lenet5", help="the model trained (default lenet5)")
    parser.add_argument("--images", type=int, help="images per transform (default 2000)")
    parser.add_argument("--repeats", type=int, help="timed epochs each (default 3)")
    parser.add_argument("--dev-error", action="store_true", help="also train off and on fully")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    images = args.images or (300 if args.quick else 2000)
    repeats = args.repeats or (1 if args.quick else 3)

    project = load_params()
    train = project.train.model_copy(
        update={"augment": project.train.augment.model_copy(update={"enabled": True})}
    )
    model_params = project.model_params(args.arch)
    store = read_store(paths.SPLIT)
    print(
        f"data: {paths.SPLIT}, {len(split_rows(store, 'train'))} training images of "
        f"{'x'.join(map(str, store.image_shape))} (C x H x W); torch threads "
        f"{torch.get_num_threads()}; preset {train.augment.preset}"
    )

    print(f"\naugmentation, one worker process, {images} images:")
    worker_rates = per_worker(store, train, images)
    for name, rate in worker_rates:
        print(f"  {name:42s} {rate:9,.0f} images/s")

    print(f"\ntraining {args.arch}, batch {train.batch_size}, {repeats} timed epochs each:")
    speed = training_throughput(store, train, args.arch, model_params, repeats)
    on_label = (
        f"augmentation on ({speed['workers']} worker(s), {speed['threads']['on']} torch thread(s))"
    )
    print(f"  {'augmentation off (split in memory)':42s} {speed['off']:9,.0f} examples/s")
    print(f"  {on_label:42s} {speed['on']:9,.0f} examples/s")
    verdict = "meets" if speed["ratio"] >= GOAL else "misses"
    print(f"  ratio on / off: {speed['ratio']:.2f} ({verdict} the goal of {GOAL})")
    results = {"per_worker": dict(worker_rates), "training": speed, "architecture": args.arch}

    if args.dev_error:
        print(f"\ndev error after {train.epochs} epochs of {args.arch}:")
        results["dev_error"] = dev_errors(store, train, args.arch, model_params)
        for name, figures in results["dev_error"].items():
            print(
                f"  augmentation {name:3s}: {figures['dev_error']:.2%} ({figures['seconds']:.0f} s)"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
