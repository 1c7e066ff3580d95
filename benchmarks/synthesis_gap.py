"""Does better synthesis narrow the data-mismatch gap? Five pipelines, one architecture.

Each run is the default params.yaml in a fresh temporary project (benchmark_projects),
reproduced with `dvc repro evaluate@<arch> analyze@<arch>`, changing only:

  a  fonts only, naive synthesis     split.target_to_train 0; no distortions at all; 6,000
  b  fonts only, improved synthesis  split.target_to_train 0; pen-drawn digits; 6,000
                                     (synthesize.source: strokes, docs/synthesis.md)
  c  no synthetic data               synthesize.count 0 (real target images only)
  d  default mix, improved synthesis all real training digits + the improved synthetic digits
  e  default mix, naive synthesis    all real training digits + naive fonts
  f  default mix, params.yaml        the synthesis params.yaml ships (optional: --runs abcdef)

"Fonts only" means no real target image in train (train-dev is then synthetic too, 6,000
images whatever drew them; c, d, e take params.yaml's synthesize.count), so dev error
is the whole cost of the mismatch. For each it prints dev error, train-dev error, the
mismatch gap (dev - train-dev) and the train-dev vs dev AUC of the analyze stage, then
checks the goals: (b) at most half of (a)'s dev error; (d) below (c).

The improved settings are tuned on dev error (never test). Label-issue search is off and the
diagnosis bootstrap smaller, to save time; neither changes a dev error. About a minute per
run on 2 CPU cores; `--quick` (runs a and b only, 1,000 fonts, 3 epochs, no AUC) under one.

    python benchmarks/synthesis_gap.py [--arch deep_nn] [--quick] [--runs abcdef] [--seeds N]
    python benchmarks/synthesis_gap.py --dry-run   # seconds: every run's params validated, run
                                                   # a's synthesis reproduced, nothing trained

`--seeds N` repeats every run N times, adding 0..N-1 to synthesize.seed, split.seed and
train.seed (a new synthetic set, dev set and initialization each time; run c and d share each
seed's dev set), and judges the goals on the means: one 449-digit dev set moves by a point
between seeds, as much as the difference goal 2 asks about.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from benchmark_projects import make_project, run
from benchmark_record import ROOT, Figure, add_arguments, figure, open_run

from traindev import paths
from traindev.params_file import validate_params
from traindev.records.analysis import AnalysisRecord
from traindev.records.io import read_record
from traindev.records.metrics import MetricsRecord

# No distortion at all: fonts at their size, centred, upright, the font's own stroke.
NAIVE = {
    "rotation_degrees": [0, 0],
    "offset": [0, 0],
    "stroke_width": [0, 0],
    "slant_degrees": [0, 0],
    "stroke_variation": [0, 0],
    "elastic_alpha": [0, 0],
    "grid_distortion": [0, 0],
    "ink_threshold_jitter": [0, 0],
    "width_scale": [1, 1],
    "source": "fonts",
    "strokes": {"share": 0.0},  # no pen-drawn digits either
}
# The improved settings: tuned on dev error (never on test), the synthesis params.yaml ships:
# every image pen-drawn (source: strokes; in a quick in-process sweep, mixing in fonts with
# the handwriting knobs below raised dev error both alone and in the default mix).
IMPROVED = {
    "source": "strokes",
    "font_size": [30, 32],
    "offset": [-2, 2],
    "rotation_degrees": [-5, 5],
    "stroke_width": [0, 0],
    "ink_threshold": 160,
    "slant_degrees": [-20, 0],
    "stroke_variation": [0, 1.5],
    "elastic_alpha": [0, 3],
    "elastic_sigma": 3.0,
    "width_scale": [0.7, 1.0],
    "strokes": {
        "share": 0.0,
        "height": [31, 32],
        "aspect": [0.5, 0.8],
        "slant_degrees": [-20, 15],
        "rotation_degrees": [-5, 5],
        "pen_width": [2.5, 5],
        "ink_share": [0.25, 0.36],
        "jitter": [0, 0.08],
        "curvature": [0.6, 1.0],
        "elastic_alpha": [0, 2],
        "elastic_sigma": 3.0,
        "offset": [-1, 1],
    },
}
FONTS_ONLY_POOL = 6000  # synthetic images when they are all of train (a, b)
RUNS = {  # name -> (description, synthesis, split.target_to_train, synthesize.count or None)
    "a": ("fonts only, naive", NAIVE, 0.0, FONTS_ONLY_POOL),
    "b": ("fonts only, improved", IMPROVED, 0.0, FONTS_ONLY_POOL),
    "c": ("no synthetic data", NAIVE, 1.0, 0),
    "d": ("default mix, improved", IMPROVED, 1.0, None),
    "e": ("default mix, naive", NAIVE, 1.0, None),
    "f": ("default mix, params.yaml", {}, 1.0, None),  # whatever params.yaml ships
}


def run_params(
    base: dict[str, Any], arch: str, name: str, quick: bool, seed: int = 0
) -> dict[str, Any]:
    """Run ``name``'s params; ``seed`` (0: params.yaml's) is added to the synthesis, split and
    training seeds, so each repeat has its own synthetic set, dev set and initialization."""
    _, synthesis, target_to_train, count = RUNS[name]
    params = copy.deepcopy(base)
    params["synthesize"] = merged(params["synthesize"], synthesis)
    if count is not None:
        params["synthesize"]["count"] = count
    for section in ("synthesize", "split", "train"):
        params[section]["seed"] = params[section].get("seed", 0) + seed
    params["split"]["target_to_train"] = target_to_train
    params["train"]["architectures"] = [arch]
    params["train"]["checkpoint"]["enabled"] = False
    params["evaluate"]["diagnosis"]["bootstrap_replicates"] = 200
    params["analyze"]["label_issues"]["enabled"] = False
    if quick:
        params["synthesize"]["count"] = min(params["synthesize"]["count"], 1000)
        params["train"]["epochs"] = 3
    return params


def merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`base` with `update` on top, nested sections key by key: params.yaml must keep every
    key, so {"strokes": {"share": 0.0}} changes one key rather than dropping the others."""
    result = copy.deepcopy(base)
    for key, value in update.items():
        nested = isinstance(value, dict) and isinstance(result.get(key), dict)
        result[key] = merged(result[key], value) if nested else copy.deepcopy(value)
    return result


def measure(project: Path, arch: str) -> dict[str, float]:
    """The run's figures, read through the stages' own record models (validated on read)."""
    table = read_record(project / paths.metrics_file(arch), MetricsRecord).bias_variance
    analysis_file = project / paths.analysis_file(arch)
    analysis = read_record(analysis_file, AnalysisRecord) if analysis_file.is_file() else None
    mismatch = analysis.mismatch if analysis is not None else None
    return {
        "dev_error": table.dev_error,
        "train_dev_error": table.train_dev_error,
        "train_error": table.train_error,
        "mismatch_gap": table.dev_error - table.train_dev_error,
        "auc": mismatch.auc if mismatch is not None else float("nan"),
    }


def dry_run(base: dict[str, Any], arch: str, workdir: Path) -> dict[str, Any]:
    """Every run's params through the project's validation; run a's synthesis reproduced in a
    fresh copy (a tiny count). Nothing is trained: the figures need minutes."""
    for name in RUNS:
        validate_params(run_params(base, arch, name, quick=True), source=f"run {name}")
    params = run_params(base, arch, "a", quick=True)
    params["synthesize"]["count"] = 60
    project = make_project(workdir / "a0", params)
    run(["dvc", "repro", "synthesize"], project)
    return {"runs_validated": list(RUNS), "reproduced": "run a, synthesize (60 images)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="deep_nn", help="one architecture (default deep_nn)")
    parser.add_argument(
        "--quick", action="store_true", help="runs a and b, 1,000 fonts, 3 epochs, no analyze"
    )
    parser.add_argument("--runs", help="which runs, e.g. ab (default abcde; --quick: ab)")
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="repeat each run with N seeds (synthesis, split and training seeds + 0..N-1); "
        "the goals are judged on the means",
    )
    parser.add_argument("--keep", type=Path, help="build the projects here and keep them")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    bench = open_run(__file__, args, argv)
    runs = args.runs or ("ab" if args.quick else "abcde")
    stages = [f"evaluate@{args.arch}"] + ([] if args.quick else [f"analyze@{args.arch}"])
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="traindev-synthesis-gap-"))
    results: dict[str, list[dict[str, float]]] = {}
    try:
        if args.dry_run:
            bench.write([], dry_run(base, args.arch, workdir), args.out)
            return 0
        for seed in range(args.seeds):
            for name in runs:
                started = time.perf_counter()
                params = run_params(base, args.arch, name, args.quick, seed)
                project = make_project(workdir / f"{name}{seed}", params)
                run(["dvc", "repro", *stages], project)
                row = {**measure(project, args.arch), "seconds": time.perf_counter() - started}
                results.setdefault(name, []).append(row)
                print(
                    f"  {name} seed +{seed}: {RUNS[name][0]}: dev {row['dev_error']:.2%} "
                    f"({row['seconds']:.0f} s)",
                    flush=True,
                )
                if not args.keep:
                    shutil.rmtree(workdir / f"{name}{seed}", ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report(results, args.arch, args.quick)
    summary = {name: {**mean_row(rows), "seeds": rows} for name, rows in results.items()}
    details = {"arch": args.arch, "quick": args.quick, "runs": summary}
    bench.write(figures(results), details, args.out)
    return 0


# The two goals, on dev error: run -> (its baseline run, the goal on the ratio, its test).
GOALS = {"b": ("a", "ratio <= 0.5", lambda r: r <= 0.5), "d": ("c", "ratio < 1", lambda r: r < 1)}


def figures(results: dict[str, list[dict[str, float]]]) -> list[Figure]:
    """Each run's mean dev error (against its goal's baseline run) and mismatch gap."""
    means = {name: mean_row(rows) for name, rows in results.items()}
    out = []
    for name, row in means.items():
        label = f"{name} {RUNS[name][0]}"
        against, goal, test = GOALS.get(name, (None, None, None))
        dev = figure(f"{label}: dev error", row["dev_error"], "error")
        if against in means:
            dev = figure(
                f"{label}: dev error",
                row["dev_error"],
                "error",
                baseline=means[against]["dev_error"],
                baseline_name=f"{against} {RUNS[against][0]}",
                goal=goal,
            )
            dev.goal_met = dev.ratio is not None and test(dev.ratio)
        out += [dev, figure(f"{label}: mismatch gap", row["mismatch_gap"], "error")]
    return out


def mean_row(rows: list[dict[str, float]]) -> dict[str, float]:
    """Each measure's mean over the seeds."""
    return {key: statistics.fmean(row[key] for row in rows) for key in rows[0]}


def spread(rows: list[dict[str, float]], key: str) -> str:
    """min..max of one measure over the seeds (blank for a single seed)."""
    if len(rows) < 2:
        return ""
    values = [row[key] for row in rows]
    return f"{min(values):.2%}..{max(values):.2%}"


def report(results: dict[str, list[dict[str, float]]], arch: str, quick: bool) -> None:
    seeds = max(len(rows) for rows in results.values())
    means = {name: mean_row(rows) for name, rows in results.items()}
    what = f"mean of {seeds} seeds" if seeds > 1 else "one seed"
    print(f"\n{arch}{' (quick)' if quick else ''}: dev error and the data-mismatch gap ({what})")
    print(f"{'run':<28}{'dev':>8}{'dev range':>17}{'train-dev':>11}{'gap':>8}{'AUC':>7}")
    for name, row in means.items():
        label = f"{name} {RUNS[name][0]}"
        print(
            f"{label:<28}{row['dev_error']:>8.2%}{spread(results[name], 'dev_error'):>17}"
            f"{row['train_dev_error']:>11.2%}{row['mismatch_gap']:>8.2%}{row['auc']:>7.2f}"
        )
    if {"a", "b"} <= means.keys():
        a, b = means["a"]["dev_error"], means["b"]["dev_error"]
        verdict = "met" if b <= a / 2 else "NOT met"
        print(f"goal 1, (b) <= half of (a): {b:.2%} vs {a / 2:.2%}: {verdict} ({b / a:.0%} of a)")
    if {"c", "d"} <= means.keys():
        c, d = means["c"]["dev_error"], means["d"]["dev_error"]
        pairs = list(zip(results["c"], results["d"], strict=False))
        wins = sum(dd["dev_error"] < cc["dev_error"] for cc, dd in pairs)
        print(
            f"goal 2, (d) < (c): {d:.2%} vs {c:.2%}: {'met' if d < c else 'NOT met'} "
            f"(d lower in {wins} of {len(pairs)} seeds)"
        )


if __name__ == "__main__":
    sys.exit(main())
