"""`analyze` at scale: 100,000 dev predictions over 100 classes, timed phase by phase.

The phases are the library calls the `evaluate` and `analyze` stages make: the bias /
variance table with bootstrap intervals, overall and per class; the weighted error;
cleanlab's label issues; the train-dev vs dev classifier on 128-d features; the image
properties; the errors sheet with thumbnails; a reviewed sheet read back into the ceiling
table. The baseline, measured in the same run, is the textbook bootstrap that resamples
every row of every split for every replicate. Goal: under 30 s and under 2 GB peak
resident memory on a 2-core machine.

    python benchmarks/analyze_scale.py [--examples 100000] [--classes 100] [--replicates 2000]
    python benchmarks/analyze_scale.py --dry-run   # 2,000 examples, 10 classes, 100 replicates
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from benchmark_record import add_arguments, figure, open_run

import traindev  # noqa: F401  (quiet tool settings)
from traindev.analysis.label_issues import label_error_impact, suspect_label_issues
from traindev.analysis.mismatch import mismatch_check
from traindev.analysis.properties import measure_images, property_flags
from traindev.analysis.review import category_table, read_review
from traindev.analysis.sheet import build_sheet, sample_by_id, sheet_categories, write_sheet
from traindev.config import DiagnosisParams
from traindev.data.store import SPLITS
from traindev.evaluation.bootstrap import (
    per_class_intervals,
    table_intervals,
    weighted_error_interval,
)
from traindev.evaluation.diagnosis import BiasVarianceTable, diagnose, diagnose_per_class

ERROR_RATES = {"train": 0.02, "train_dev": 0.04, "dev": 0.10, "test": 0.11}


def synthetic_predictions(n: int, classes: int, seed: int) -> dict[str, Any]:
    """Softmax outputs with the error rates above per split, and 8x8 images."""
    rng = np.random.default_rng(seed)
    split = np.repeat(np.array(SPLITS), n)
    y_true = rng.integers(0, classes, len(split))
    rate = np.vectorize(ERROR_RATES.get)(split)
    wrong = rng.random(len(split)) < rate
    y_pred = np.where(wrong, (y_true + rng.integers(1, classes, len(split))) % classes, y_true)
    dev = split == "dev"
    logits = rng.normal(0.0, 1.0, (int(dev.sum()), classes)).astype(np.float32)
    logits[np.arange(len(logits)), y_pred[dev]] += 5.0
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    pixels = rng.integers(0, 17, (int(dev.sum()), 8, 8, 1), dtype=np.uint8)
    return {
        "split": split,
        "y_true": y_true,
        "y_pred": y_pred,
        "probabilities": probabilities,
        "pixels": pixels,
        "ids": np.array([f"{i:012x}" for i in range(int(dev.sum()))], dtype=object),
    }


def timed(label: str, fn: Callable[[], Any], timings: dict[str, float]) -> Any:
    started = time.perf_counter()
    result = fn()
    timings[label] = time.perf_counter() - started
    return result


def textbook_bootstrap(wrong_by_split: dict[str, np.ndarray], replicates: int, seed: int):
    """The baseline: resample every row of each split for every replicate."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, wrong in wrong_by_split.items():
        out[name] = np.array(
            [wrong[rng.integers(0, len(wrong), len(wrong))].mean() for _ in range(replicates)]
        )
    return out


GOAL_S = 30.0
GOAL_MB = 2048.0
TABLE = "table + bootstrap intervals"  # the phase measured against the textbook bootstrap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000, help="per split")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--baseline-replicates", type=int, default=100)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.dry_run:
        args.examples, args.classes, args.replicates, args.baseline_replicates = 2000, 10, 100, 10
    bench = open_run(__file__, args, argv)
    data = synthetic_predictions(args.examples, args.classes, seed=0)
    classes = [f"class_{i}" for i in range(args.classes)]
    split, y_true, y_pred = data["split"], data["y_true"], data["y_pred"]
    wrong = y_true != y_pred
    wrong_by_split = {name: wrong[split == name] for name in SPLITS}
    params = DiagnosisParams(bootstrap_replicates=args.replicates)
    timings: dict[str, float] = {}
    total_started = time.perf_counter()

    def table_phase() -> None:
        table = BiasVarianceTable(0.01, *(float(wrong_by_split[n].mean()) for n in SPLITS))
        intervals = table_intervals(wrong_by_split, 0.01, args.replicates, 0.95, 0)
        diagnose(table, params, intervals)

    timed(TABLE, table_phase, timings)
    timed(
        "per-class intervals + diagnosis",
        lambda: diagnose_per_class(
            per_class_intervals(y_true, y_pred, split, classes, 0.01, args.replicates, 0.95, 0),
            params,
        ),
        timings,
    )
    dev = split == "dev"
    weights = np.where(y_true[dev] % 10 == 0, 5.0, 1.0)
    timed(
        "weighted error interval",
        lambda: weighted_error_interval(wrong[dev], weights, args.replicates, 0.95, 0),
        timings,
    )
    issues = timed(
        "label issues (cleanlab)",
        lambda: suspect_label_issues(y_true[dev], data["probabilities"], list(data["ids"])),
        timings,
    )
    timed(
        "label-error arithmetic",
        lambda: label_error_impact(wrong[dev], issues.mask(int(dev.sum())), 0.1),
        timings,
    )
    rng = np.random.default_rng(1)
    features = rng.normal(size=(2 * args.examples, 128)).astype(np.float32)
    features[args.examples :] += 0.2  # a mild, real mismatch
    timed(
        "mismatch classifier (capped at 5,000 a side)",
        lambda: mismatch_check(
            features[: args.examples],
            features[args.examples :],
            np.arange(args.examples),
            folds=5,
            max_per_split=5000,
            seed=0,
        ),
        timings,
    )
    flags = timed(
        "image properties + flags",
        lambda: property_flags(*(2 * [measure_images(data["pixels"], 16)]), 0.1),
        timings,
    )
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        frame = pd.DataFrame(
            {
                "id": data["ids"],
                "split": "dev",
                "domain": "target",
                "label": np.asarray(classes, dtype=object)[y_true[dev]],
                "prediction": np.asarray(classes, dtype=object)[y_pred[dev]],
                "confidence": data["probabilities"].max(axis=1),
                "tags": [["source=bench"]] * int(dev.sum()),
            }
        )
        dev_wrong = wrong[dev]
        suspected = dict(zip(issues.ids, issues.rank, strict=True))

        def sheet_phase() -> pd.DataFrame:
            sample = np.flatnonzero(dev_wrong)[sample_by_id(list(data["ids"][dev_wrong]), 100, 0)]
            sheet = build_sheet(frame.iloc[sample], flags.flags.iloc[sample], [], suspected)
            write_sheet(sheet, data["pixels"][sheet.index], 16, out, "errors", "bench")
            return sheet

        sheet = timed("errors sheet (sample, CSV, HTML, thumbnails)", sheet_phase, timings)
        reviewed = pd.read_csv(out / "errors.csv", dtype=str).fillna("")
        reviewed["tick:blurry"] = ["1" if i % 3 == 0 else "" for i in range(len(reviewed))]
        reviewed.to_csv(out / "reviewed.csv", index=False)
        timed(
            "reviewed sheet -> ceiling table",
            lambda: category_table(
                read_review(out / "reviewed.csv", sheet_categories([])),
                float(dev_wrong.mean()),
                set(data["ids"][dev_wrong]),
                set(data["ids"]),
            ),
            timings,
        )
        assert len(sheet) == 100
    total = time.perf_counter() - total_started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    baseline_started = time.perf_counter()
    textbook_bootstrap(wrong_by_split, args.baseline_replicates, 0)
    baseline = (time.perf_counter() - baseline_started) * args.replicates / args.baseline_replicates
    ours = timings[TABLE]

    n_total = len(split)
    print(
        f"analyze at scale: {args.examples:,} examples per split ({n_total:,} in all), "
        f"{args.classes} classes, {args.replicates} bootstrap replicates"
    )
    for label, seconds in timings.items():
        print(f"  {label:<45} {seconds:8.3f} s")
    print(f"  {'total':<45} {total:8.3f} s   (goal < {GOAL_S:.0f} s)")
    print(f"  {'peak resident memory':<45} {peak_mb:8.0f} MB  (goal < {GOAL_MB:.0f} MB)")
    print(
        f"baseline: textbook row-resampling bootstrap of the table, {args.replicates} replicates "
        f"(extrapolated from {args.baseline_replicates}): {baseline:.2f} s; "
        f"binomial bootstrap {ours:.3f} s = {baseline / ours:,.0f}x faster"
    )
    figures = [
        figure(
            f"evaluate + analyze phases, {n_total:,} examples",
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
            f"{TABLE}, {args.replicates} replicates",
            ours,
            "s",
            baseline=baseline,
            baseline_name="textbook row resampling, extrapolated from "
            f"{args.baseline_replicates} replicates",
        ),
        *(figure(label, seconds, "s") for label, seconds in timings.items() if label != TABLE),
    ]
    details = {
        "examples_per_split": args.examples,
        "classes": args.classes,
        "replicates": args.replicates,
        "phases_s": timings,
    }
    bench.write(figures, details, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
