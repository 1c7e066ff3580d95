"""The JSON record every benchmark writes: its figures and the context they were measured in.

A figure in prose goes stale the day the code changes; a figure in a record says which commit,
which machine and how busy that machine was, and docs/benchmarks.md is rendered from the
records (benchmarks/render_docs.py). Real runs write `benchmarks/results/<name>.json`
(committed); dry runs (`--dry-run`, tiny sizes, seconds) write to `benchmarks/out/` (ignored by
git) or `--out DIR`, so the suite can run every benchmark without touching the committed ones.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"  # real runs, committed
SCRATCH = BENCHMARKS / "out"  # dry runs, git-ignored
RESULTS_IN_GIT = RESULTS.relative_to(ROOT).as_posix()


class Figure(BaseModel):
    """One measured figure, beside the baseline measured in the same run where there is one."""

    model_config = ConfigDict(extra="forbid")

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str | None = Field(default=None, description="what the baseline is")
    ratio: float | None = Field(default=None, description="value / baseline")
    goal: str | None = Field(default=None, description="e.g. 'ratio >= 0.95', '< 10 s'")
    goal_met: bool | None = None


class Machine(BaseModel):
    """Where the figures were measured: a shared, busy machine shows in its load average."""

    model_config = ConfigDict(extra="forbid")

    cores: int = Field(description="cores this process may run on")
    cpu_model: str
    load_average_start: tuple[float, float, float] = Field(description="1, 5, 15 min")
    platform: str
    python: str
    gpu: str | None = None


class BenchmarkRecord(BaseModel):
    """One benchmark run: `benchmarks/results/<benchmark>.json`."""

    model_config = ConfigDict(extra="forbid")

    benchmark: str = Field(description="the script's name: benchmarks/<benchmark>.py")
    command: str
    git_commit: str
    git_dirty: bool
    date: datetime
    dry_run: bool
    machine: Machine
    figures: list[Figure]
    details: dict[str, Any] = Field(default_factory=dict, description="everything else it printed")


def figure(
    name: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_name: str | None = None,
    goal: str | None = None,
    goal_met: bool | None = None,
) -> Figure:
    """A figure; the ratio is computed here, so no script computes it its own way."""
    ratio = value / baseline if baseline else None
    return Figure(
        name=name,
        value=value,
        unit=unit,
        baseline=baseline,
        baseline_name=baseline_name,
        ratio=ratio,
        goal=goal,
        goal_met=goal_met,
    )


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def gpu_name() -> str | None:
    """The GPU, if torch is already imported and sees one (never imported just for this)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0)


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--dry-run` and `--out`, the same for every benchmark."""
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="tiny sizes, a few seconds: checks the benchmark runs, measures nothing useful",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"write the JSON record here (default {RESULTS.relative_to(ROOT)}/, "
        f"or {SCRATCH.relative_to(ROOT)}/ for a dry run)",
    )


class Run:
    """Opened before a benchmark measures anything, so the load average is the one at start."""

    def __init__(self, benchmark: str, argv: list[str] | None, dry_run: bool) -> None:
        self.benchmark = benchmark
        self.dry_run = dry_run
        self.command = " ".join(
            ["python", f"benchmarks/{benchmark}.py", *(sys.argv[1:] if argv is None else argv)]
        )
        self.date = datetime.now(UTC).replace(microsecond=0)
        self.load = os.getloadavg()
        self.commit = _git("rev-parse", "HEAD")
        # Changes to tracked files other than the records themselves (one run rewrites them).
        self.dirty = bool(
            _git("status", "--porcelain", "--untracked-files=no", "--", ".", f":!{RESULTS_IN_GIT}")
        )

    def record(self, figures: list[Figure], details: dict[str, Any]) -> BenchmarkRecord:
        return BenchmarkRecord(
            benchmark=self.benchmark,
            command=self.command,
            git_commit=self.commit,
            git_dirty=self.dirty,
            date=self.date,
            dry_run=self.dry_run,
            machine=Machine(
                cores=len(os.sched_getaffinity(0)),
                cpu_model=cpu_model(),
                load_average_start=tuple(round(x, 2) for x in self.load),
                platform=platform.platform(),
                python=platform.python_version(),
                gpu=gpu_name(),
            ),
            figures=figures,
            details=details,
        )

    def write(self, figures: list[Figure], details: dict[str, Any], out: Path | None) -> Path:
        """Write the record to `<out>/<benchmark>.json` and say where."""
        directory = out or (SCRATCH if self.dry_run else RESULTS)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.benchmark}.json"
        path.write_text(self.record(figures, details).model_dump_json(indent=2) + "\n")
        print(f"wrote {path}")
        return path


def open_run(module_file: str, args: argparse.Namespace, argv: list[str] | None = None) -> Run:
    """The run of the benchmark whose `__file__` is `module_file`, opened now."""
    return Run(Path(module_file).stem, argv, args.dry_run)


# Modules of benchmarks/ that are not benchmarks themselves.
SUPPORT_MODULES = frozenset({"benchmark_record", "benchmark_projects", "render_docs"})


def benchmark_scripts() -> list[Path]:
    """Every benchmark script: each must write a record and have a dry run in the suite."""
    return sorted(p for p in BENCHMARKS.glob("*.py") if p.stem not in SUPPORT_MODULES)


def read_record(path: Path) -> BenchmarkRecord:
    """A record, validated: a stale or hand-edited file is an error naming file and field."""
    try:
        return BenchmarkRecord.model_validate_json(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
