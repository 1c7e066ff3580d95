"""Wall time of the full default `dvc repro`, per stage, in a fresh copy of the project.

Copies dvc.yaml, params.yaml and the code into a temporary git + DVC repository (so the
cache and MLflow store start empty, as on a new machine), reproduces each stage in
dependency order with `dvc repro --single-item`, then prints the per-stage times, the
default run's dev error per architecture and its bias / variance table.

    python benchmarks/pipeline_wall_time.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from pipeline.dvc_graph import stage_graph, stage_order

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("dvc.yaml", "params.yaml", "pyproject.toml", ".gitignore", "src", "pipeline", "reviews")


def sh(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)


def fresh_project(target: Path) -> Path:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    sh(["git", "init", "-q"], target)
    sh(
        [
            "git",
            "-c",
            "user.email=b@traindev.invalid",
            "-c",
            "user.name=bench",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "bench",
        ],
        target,
    )
    sh(["dvc", "init", "-q"], target)
    sh(["dvc", "config", "core.analytics", "false"], target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the project here and keep it")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="traindev-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    project = fresh_project(workdir)

    timings: list[tuple[str, float]] = []
    for stage in stage_order(stage_graph(project)):
        started = time.perf_counter()
        sh(["dvc", "repro", "--single-item", stage], project)
        timings.append((stage, time.perf_counter() - started))
    total = sum(seconds for _, seconds in timings)

    print(f"{'stage':<30}{'seconds':>9}")
    for stage, seconds in timings:
        print(f"{stage:<30}{seconds:>9.1f}")
    print(f"{'total dvc repro':<30}{total:>9.1f}   (goal: under 300 s on 2 CPU cores)")

    started = time.perf_counter()
    sh(["dvc", "repro"], project)
    print(f"{'no-op dvc repro':<30}{time.perf_counter() - started:>9.1f}")

    print()
    for metrics_file in sorted((project / "reports/metrics").glob("*.json")):
        table = json.loads(metrics_file.read_text())["bias_variance"]
        print(f"{metrics_file.stem}: dev error {table['dev_error']:.2%}")
        for row in (
            "human_level_error",
            "train_error",
            "train_dev_error",
            "dev_error",
            "test_error",
        ):
            print(f"  {row:<20}{table[row]:>8.2%}")
        for gap in ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting"):
            print(f"  gap {gap:<16}{table[gap]:>8.2%}")
        diagnosis = json.loads(
            (project / "data/evaluation" / metrics_file.stem / "diagnosis.json").read_text()
        )
        print(f"  diagnosis: {diagnosis['summary']}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
