"""Detection evaluation at scale: mAP, TIDE and the per-image error's bootstrap on 10,000 images.

Each 64x64 image holds 5 objects of 10 classes; the predictions are synthetic and seeded, with
every TIDE error type planted at a fixed rate (wrong class, poor box, both, duplicate,
background, missed) around well-placed detections. The phases are the library calls a detection
`evaluate` and `analyze` make: joining the box table and the predictions, pycocotools' COCOeval
(mAP@0.5, mAP@[.5:.95], precision / recall and the per-image error), TIDE's typing of every
error with each type's dAP, and the percentile bootstrap of the image error. The baseline,
measured in the same run, is COCOeval as its documentation runs it (four area ranges, three
detection caps, summarize). Goal: under 30 s and under 2 GB peak resident memory on 2 cores.

    python benchmarks/detection_evaluation.py [--images 10000] [--objects 5] [--classes 10]
    python benchmarks/detection_evaluation.py --dry-run   # 200 images
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from benchmark_record import add_arguments, figure, open_run
from pycocotools.cocoeval import COCOeval

import traindev  # noqa: F401  (quiet tool settings)
from traindev.evaluation.bootstrap import error_interval
from traindev.tasks.detection.box_table import box_frame
from traindev.tasks.detection.boxes import Detections
from traindev.tasks.detection.evaluation_inputs import evaluation_set
from traindev.tasks.detection.metrics import coco_datasets, metrics_of
from traindev.tasks.detection.tide import tide_of

CANVAS = 64.0
# Share of objects whose detection has each fault; the rest are found well.
FAULTS = {"classification": 0.05, "localization": 0.06, "both": 0.03, "missed": 0.05}
DUPLICATE_RATE = 0.04  # per found object, a second, lower-scoring box
BACKGROUND_PER_IMAGE = 0.5
GOAL_S = 30.0
GOAL_MB = 2048.0


def synthetic_evaluation(
    images: int, objects: int, classes: int, seed: int
) -> tuple[pd.DataFrame, list[Detections], list[str], list[str]]:
    """Box table, per-image predictions, image ids and class names, seeded."""
    rng = np.random.default_rng(seed)
    ids = [f"{i:012x}" for i in range(images)]
    names = [f"class_{k}" for k in range(classes)]
    n = images * objects
    image = np.repeat(np.arange(images), objects)
    size = rng.uniform(8, 24, (n, 2))
    corner = rng.uniform(0, CANVAS - size)
    truth = np.column_stack([corner, corner + size]).astype(np.float32)
    label = rng.integers(0, classes, n)
    table = box_frame(
        np.asarray(ids, dtype=object)[image].tolist(),
        np.tile(np.arange(objects), images).tolist(),
        np.asarray(names, dtype=object)[label].tolist(),
        truth,
    )

    fault = rng.choice([*FAULTS, "found"], size=n, p=[*FAULTS.values(), 1 - sum(FAULTS.values())])
    shown = fault != "missed"
    boxes = truth + rng.normal(0, 0.6, (n, 4))
    shift = size[:, :1] * rng.uniform(0.45, 0.7, (n, 1))  # IoU about 0.2 - 0.4
    poor = np.isin(fault, ["localization", "both"])
    boxes[poor] += np.column_stack([shift, np.zeros((n, 1)), shift, np.zeros((n, 1))])[poor]
    other = (label + rng.integers(1, classes, n)) % classes
    cls = np.where(np.isin(fault, ["classification", "both"]), other, label)
    score = np.where(fault == "found", rng.uniform(0.5, 1.0, n), rng.uniform(0.1, 0.8, n))
    duplicate = (fault == "found") & (rng.random(n) < DUPLICATE_RATE)
    background = rng.poisson(BACKGROUND_PER_IMAGE, images)
    back_corner = rng.uniform(0, CANVAS - 6, (int(background.sum()), 2))
    parts = {
        "image": [image[shown], image[duplicate], np.repeat(np.arange(images), background)],
        "box": [
            boxes[shown],
            boxes[duplicate] + rng.normal(0, 1.0, (int(duplicate.sum()), 4)),
            np.column_stack([back_corner, back_corner + 6]),
        ],
        "cls": [cls[shown], label[duplicate], rng.integers(0, classes, len(back_corner))],
        "score": [
            score[shown],
            score[duplicate] * 0.8,
            rng.uniform(0.1, 0.6, len(back_corner)),
        ],
    }
    flat = {key: np.concatenate(value) for key, value in parts.items()}
    flat["box"][:, 2:] = np.maximum(flat["box"][:, 2:], flat["box"][:, :2] + 1.0)
    order = np.argsort(flat["image"], kind="stable")
    cut = np.cumsum(np.bincount(flat["image"], minlength=images))[:-1]
    split = {key: np.split(value[order], cut) for key, value in flat.items() if key != "image"}
    predictions = [
        Detections(torch.from_numpy(box), torch.from_numpy(s), torch.from_numpy(c))
        for box, s, c in zip(split["box"], split["score"], split["cls"], strict=True)
    ]
    return table, predictions, ids, names


def timed(label: str, fn: Callable[[], Any], timings: dict[str, float]) -> Any:
    started = time.perf_counter()
    result = fn()
    timings[label] = time.perf_counter() - started
    return result


def documented_cocoeval(data) -> float:
    """COCOeval with its default parameters and summary: the baseline of the mAP phase."""
    truth, detections = coco_datasets(data)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(truth, detections, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return float(evaluator.stats[1])


def textbook_bootstrap(wrong: np.ndarray, replicates: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array(
        [wrong[rng.integers(0, len(wrong), len(wrong))].mean() for _ in range(replicates)]
    )


MAP = "COCOeval mAP + precision / recall + per-image error"
BOOTSTRAP = "bootstrap of the image error"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--objects", type=int, default=5, help="per image")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--replicates", type=int, default=2000)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.dry_run:
        args.images, args.replicates = 200, 100
    bench = open_run(__file__, args, argv)
    table, predictions, ids, classes = synthetic_evaluation(
        args.images, args.objects, args.classes, seed=0
    )
    timings: dict[str, float] = {}
    started = time.perf_counter()
    data = timed(
        "join box table and predictions",
        lambda: evaluation_set(table, predictions, ids, classes),
        timings,
    )
    metrics = timed(MAP, lambda: metrics_of(data, score_threshold=0.3), timings)
    tide = timed("TIDE typing + dAP per type", lambda: tide_of(data), timings)
    interval = timed(
        BOOTSTRAP,
        lambda: error_interval(metrics.image_wrong, args.replicates, 0.95, 0),
        timings,
    )
    total = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    baseline_started = time.perf_counter()
    documented_map_50 = documented_cocoeval(data)
    baseline = time.perf_counter() - baseline_started
    assert abs(documented_map_50 - metrics.map_50) < 1e-12, (documented_map_50, metrics.map_50)
    textbook_started = time.perf_counter()
    textbook_bootstrap(metrics.image_wrong, args.replicates, 0)
    textbook = time.perf_counter() - textbook_started

    objects = len(table)
    detections = len(data.pred_score)
    print(
        f"detection evaluation at scale: {args.images:,} images, {objects:,} objects, "
        f"{detections:,} detections, {args.classes} classes, {args.replicates} replicates"
    )
    for label, seconds in timings.items():
        print(f"  {label:<55} {seconds:8.3f} s")
    print(f"  {'total':<55} {total:8.3f} s   (goal < {GOAL_S:.0f} s)")
    print(f"  {'peak resident memory':<55} {peak_mb:8.0f} MB  (goal < {GOAL_MB:.0f} MB)")
    print(f"baseline: COCOeval as documented (4 area ranges, 3 caps) {baseline:.2f} s")
    print(f"baseline: textbook row-resampling bootstrap {textbook:.3f} s")
    print(
        f"mAP@0.5 {metrics.map_50:.4f}, mAP@[.5:.95] {metrics.map_50_95:.4f}, "
        f"image error {metrics.image_error:.4f} [{interval.low:.4f}, {interval.high:.4f}]"
    )
    print("TIDE counts", tide.counts)
    print("TIDE dAP", {kind: round(value, 4) for kind, value in tide.delta_ap.items()})
    figures = [
        figure(
            f"mAP + TIDE + bootstrap, {args.images:,} images",
            total,
            "s",
            goal=f"< {GOAL_S:.0f} s",
            goal_met=total < GOAL_S,
        ),
        figure(
            "peak resident memory",
            peak_mb,
            "MB",
            goal=f"< {GOAL_MB:.0f} MB",
            goal_met=peak_mb < GOAL_MB,
        ),
        figure(
            MAP,
            timings[MAP],
            "s",
            baseline=baseline,
            baseline_name="COCOeval with default parameters and summarize (mAP only)",
        ),
        figure(
            f"{BOOTSTRAP}, {args.replicates} replicates",
            timings[BOOTSTRAP],
            "s",
            baseline=textbook,
            baseline_name="textbook row resampling",
        ),
        *(
            figure(label, seconds, "s")
            for label, seconds in timings.items()
            if label not in (MAP, BOOTSTRAP)
        ),
    ]
    details = {
        "images": args.images,
        "objects": objects,
        "detections": detections,
        "classes": args.classes,
        "replicates": args.replicates,
        "phases_s": timings,
        "metrics": metrics.as_dict(),
        "image_error_interval": interval.as_dict(),
        "tide": tide.as_dict(),
    }
    bench.write(figures, details, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
