"""Wall time of the full default `dvc repro`, per stage, in a fresh copy of the project.

Method. A fresh git + DVC copy of the project (the test harness's `make_project`, with
params.yaml as it is), so the DVC cache and the MLflow store start empty as on a new machine.
Each stage is reproduced in dependency order with `dvc repro --single-item <stage>` and timed
from the outside (process start-up, imports and DVC's own bookkeeping included, as a user waits
for them); then one more `dvc repro`, which must find nothing to do, is timed as the no-op.
Goal: the whole pipeline under 300 s on 2 CPU cores.

    python benchmarks/pipeline_wall_time.py [--keep DIR]
    python benchmarks/pipeline_wall_time.py --dry-run   # tiny params, `ingest` only: seconds
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml
from benchmark_projects import make_project, run, tiny_params, upstream_only
from benchmark_record import ROOT, add_arguments, figure, open_run

from pipeline.dvc_graph import stage_graph, stage_order

GOAL_S = 300.0
DRY_RUN_LAST_STAGE = "ingest"  # a dry run reproduces this stage and what it depends on


def reproduce(project: Path) -> tuple[list[tuple[str, float]], float]:
    """(stage, seconds) for every stage in dependency order, and the no-op `dvc repro`."""
    timings = []
    for stage in stage_order(stage_graph(project)):
        started = time.perf_counter()
        run(["dvc", "repro", "--single-item", stage], project)
        timings.append((stage, time.perf_counter() - started))
    started = time.perf_counter()
    noop = run(["dvc", "repro"], project)
    if "Data and pipelines are up to date" not in noop.stdout + noop.stderr:
        raise RuntimeError(f"the second dvc repro still ran stages:\n{noop.stdout}")
    return timings, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the project here and keep it")
    add_arguments(parser)
    args = parser.parse_args(argv)
    bench = open_run(__file__, args, argv)
    params = tiny_params() if args.dry_run else yaml.safe_load((ROOT / "params.yaml").read_text())
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="traindev-bench-"))
    try:
        project = make_project(workdir / "project", params)
        if args.dry_run:
            upstream_only(project, DRY_RUN_LAST_STAGE)
        timings, noop = reproduce(project)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    total = sum(seconds for _, seconds in timings)

    print(f"{'stage':<30}{'seconds':>9}")
    for stage, seconds in timings:
        print(f"{stage:<30}{seconds:>9.1f}")
    print(f"{'total dvc repro':<30}{total:>9.1f}   (goal: under {GOAL_S:.0f} s on 2 CPU cores)")
    print(f"{'no-op dvc repro':<30}{noop:>9.1f}")

    figures = [
        figure(
            "whole pipeline, stage by stage",
            total,
            "s",
            goal=f"< {GOAL_S:.0f} s",
            goal_met=total < GOAL_S,
        ),
        figure("no-op dvc repro", noop, "s"),
        *(figure(f"stage {stage}", seconds, "s") for stage, seconds in timings),
    ]
    details = {"params": f"tiny, up to {DRY_RUN_LAST_STAGE}" if args.dry_run else "params.yaml"}
    bench.write(figures, details, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
