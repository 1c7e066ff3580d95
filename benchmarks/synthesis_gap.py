"""Does better synthesis narrow the data-mismatch gap? Five pipelines, one architecture.

Each run is the default params.yaml in a fresh temporary project (tests/project_harness),
reproduced with `dvc repro evaluate@<arch> analyze@<arch>`, changing only:

  a  fonts only, naive synthesis     split.target_to_train 0; no distortions at all
  b  fonts only, improved synthesis  split.target_to_train 0; the handwriting knobs
  c  no synthetic data               synthesize.count 0 (real target images only)
  d  default mix, improved synthesis all real training digits + improved fonts
  e  default mix, naive synthesis    all real training digits + naive fonts
  f  default mix, params.yaml        the synthesis params.yaml ships (optional: --runs abcdef)

"Fonts only" means no real target image in train (train-dev is then fonts too), so dev error
is the whole cost of the mismatch. For each it prints dev error, train-dev error, the
mismatch gap (dev - train-dev) and the train-dev vs dev AUC of the analyze stage, then
checks the goals: (b) at most half of (a)'s dev error; (d) below (c).

The improved settings are tuned on dev error (never test). Label-issue search is off and the
diagnosis bootstrap smaller, to save time; neither changes a dev error. About 2 minutes per
run on 2 CPU cores; `--quick` (runs a and b only, 1,000 fonts, 3 epochs, no AUC) under one.

    python benchmarks/synthesis_gap.py [--arch deep_nn] [--quick] [--runs abcdef] [--json out.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from project_harness import make_project, run  # noqa: E402

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
}
# The improved settings: tuned on dev error with fonts-only deep_nn (never on test).
IMPROVED = {
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
}
RUNS = {  # name -> (description, synthesis, split.target_to_train, synthesize.count or None)
    "a": ("fonts only, naive", NAIVE, 0.0, None),
    "b": ("fonts only, improved", IMPROVED, 0.0, None),
    "c": ("no synthetic data", NAIVE, 1.0, 0),
    "d": ("default mix, improved", IMPROVED, 1.0, None),
    "e": ("default mix, naive", NAIVE, 1.0, None),
    "f": ("default mix, params.yaml", {}, 1.0, None),  # whatever params.yaml ships
}


def run_params(base: dict[str, Any], arch: str, name: str, quick: bool) -> dict[str, Any]:
    _, synthesis, target_to_train, count = RUNS[name]
    params = copy.deepcopy(base)
    params["synthesize"].update(copy.deepcopy(synthesis))
    if count is not None:
        params["synthesize"]["count"] = count
    params["split"]["target_to_train"] = target_to_train
    params["train"]["architectures"] = [arch]
    params["train"]["checkpoint"]["enabled"] = False
    params["evaluate"]["diagnosis"]["bootstrap_replicates"] = 200
    params["analyze"]["label_issues"]["enabled"] = False
    if quick:
        params["synthesize"]["count"] = min(params["synthesize"]["count"], 1000)
        params["train"]["epochs"] = 3
    return params


def measure(project: Path, arch: str) -> dict[str, float]:
    table = json.loads((project / f"reports/metrics/{arch}.json").read_text())["bias_variance"]
    analysis_file = project / f"reports/analysis/{arch}.json"
    analysis = json.loads(analysis_file.read_text()) if analysis_file.is_file() else {}
    mismatch = analysis.get("mismatch") or {}
    return {
        "dev_error": table["dev_error"],
        "train_dev_error": table["train_dev_error"],
        "train_error": table["train_error"],
        "mismatch_gap": table["dev_error"] - table["train_dev_error"],
        "auc": mismatch.get("auc", float("nan")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="deep_nn", help="one architecture (default deep_nn)")
    parser.add_argument(
        "--quick", action="store_true", help="runs a and b, 1,000 fonts, 3 epochs, no analyze"
    )
    parser.add_argument("--runs", help="which runs, e.g. ab (default abcde; --quick: ab)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", type=Path, help="build the projects here and keep them")
    args = parser.parse_args()
    runs = args.runs or ("ab" if args.quick else "abcde")
    stages = [f"evaluate@{args.arch}"] + ([] if args.quick else [f"analyze@{args.arch}"])
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="traindev-synthesis-gap-"))
    results: dict[str, dict[str, float]] = {}
    try:
        for name in runs:
            started = time.perf_counter()
            project = make_project(workdir / name, run_params(base, args.arch, name, args.quick))
            run(["dvc", "repro", *stages], project)
            results[name] = {
                **measure(project, args.arch),
                "seconds": time.perf_counter() - started,
            }
            print(f"  {name}: {RUNS[name][0]} done in {results[name]['seconds']:.0f} s", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report(results, args.arch, args.quick)
    if args.json:
        args.json.write_text(
            json.dumps({"arch": args.arch, "quick": args.quick, **results}, indent=2)
        )


def report(results: dict[str, dict[str, float]], arch: str, quick: bool) -> None:
    print(f"\n{arch}{' (quick)' if quick else ''}: dev error and the data-mismatch gap")
    print(f"{'run':<28}{'dev':>8}{'train-dev':>11}{'gap':>8}{'AUC':>7}")
    for name, row in results.items():
        label = f"{name} {RUNS[name][0]}"
        print(
            f"{label:<28}{row['dev_error']:>8.2%}{row['train_dev_error']:>11.2%}"
            f"{row['mismatch_gap']:>8.2%}{row['auc']:>7.2f}"
        )
    if {"a", "b"} <= results.keys():
        a, b = results["a"]["dev_error"], results["b"]["dev_error"]
        verdict = "met" if b <= a / 2 else "NOT met"
        print(f"goal 1, (b) <= half of (a): {b:.2%} vs {a / 2:.2%}: {verdict} ({b / a:.0%} of a)")
    if {"c", "d"} <= results.keys():
        c, d = results["c"]["dev_error"], results["d"]["dev_error"]
        print(f"goal 2, (d) < (c): {d:.2%} vs {c:.2%}: {'met' if d < c else 'NOT met'}")


if __name__ == "__main__":
    main()
