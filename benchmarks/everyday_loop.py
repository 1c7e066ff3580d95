"""The everyday loop: a forced `dvc repro`, each stage's imports, a no-op, and the flow beside it.

Method. A fresh git + DVC copy of the project (benchmark_projects' make_project, with
params.yaml as it is), so the DVC cache and the MLflow store start empty as on a new machine.
In that copy, in one run:

1. `dvc repro --force`, timed from the outside; each stage's wall time is read off DVC's own
   output as it streams (from one "Running stage" line to the next), so it includes the stage
   process's start-up and imports, as a user waits for them. Goal (issue 24): <= 60 s.
2. Each stage's import bill: a fresh `python -X importtime` that imports the CLI and the stage
   module, as the stage process does before it works; the sum of every module's own import
   time (median of --repeats). Libraries a stage imports later, where it uses them, are in
   its wall time, not here.
3. A no-op `dvc repro` (median of 5; it must find nothing to do). Goal: <= 1 s.
4. The Prefect `reproduce` flow with nothing to do, through its public command line
   (`python -m pipeline.flows --project-dir <copy>`), beside the no-op `dvc repro` measured in
   the same run. The first flow (which may start a server) is reported; the figure is the
   median of the later ones. Goal: within 5 s of the no-op `dvc repro`.

Every subprocess has this virtualenv's bin directory first on PATH, no MLFLOW_TRACKING_URI
(the copy logs to its own sqlite:///<copy>/mlflow.db), no PREFECT_API_URL and PREFECT_HOME in
a temporary directory: the user's Prefect database is never touched. Wall clock on a shared
machine is noisy; the record keeps the load average.

    python benchmarks/everyday_loop.py [--keep DIR] [--repeats 3]
    python benchmarks/everyday_loop.py --dry-run   # tiny params, `ingest` only: seconds
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from benchmark_projects import bench_env, make_project, tiny_params, upstream_only
from benchmark_record import ROOT, Figure, add_arguments, figure, open_run

from pipeline.dvc_graph import stage_graph
from traindev.cli import STAGES

FORCED_GOAL_S = 60.0
NOOP_GOAL_S = 1.0
FLOW_GOAL_S = 5.0  # the flow with nothing to do, minus the no-op dvc repro
NOOP_REPEATS = 5
DRY_RUN_LAST_STAGE = "ingest"
UP_TO_DATE = "Data and pipelines are up to date"
RUNNING = re.compile(r"Running stage '([^']+)'")
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|")
IMPORT_PROBE = "import traindev.cli, traindev.stages.{module}"


def checked(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds and output of one command; a failure stops the benchmark with its output."""
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-4000:]
        raise RuntimeError(f"`{' '.join(cmd)}` in {cwd} failed ({done.returncode}):\n{tail}")
    return seconds, done.stdout + done.stderr


def forced_repro(project: Path, env: dict[str, str]) -> tuple[float, dict[str, float]]:
    """`dvc repro --force`: its wall time and each stage's, from DVC's streamed output."""
    cmd = ["dvc", "repro", "--force"]
    started = time.perf_counter()
    process = subprocess.Popen(
        cmd, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    starts: list[tuple[str, float]] = []
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if found := RUNNING.search(line):
            starts.append((found.group(1), time.perf_counter()))
    process.wait()
    ended = time.perf_counter()
    if process.returncode != 0:
        tail = "".join(lines)[-4000:]
        raise RuntimeError(f"`{' '.join(cmd)}` in {project} failed ({process.returncode}):\n{tail}")
    ends = [at for _, at in starts[1:]] + [ended]
    stages = {stage: end - start for (stage, start), end in zip(starts, ends, strict=True)}
    return ended - started, stages


def import_seconds(module: str, project: Path, env: dict[str, str], repeats: int) -> float:
    """Median over `repeats` fresh interpreters of the summed own import times."""
    cmd = [sys.executable, "-X", "importtime", "-c", IMPORT_PROBE.format(module=module)]
    totals = []
    for _ in range(repeats):
        _, output = checked(cmd, project, env)
        totals.append(sum(int(m.group(1)) for m in IMPORT_LINE.finditer(output)) / 1e6)
    return statistics.median(totals)


def stage_modules(project: Path) -> list[str]:
    """The traindev.stages modules the copy's pipeline runs, in cli.STAGES order."""
    commands = {stage.split("@", 1)[0] for stage in stage_graph(project)}
    return [STAGES[command][0] for command in STAGES if command in commands]


def noop_repro(project: Path, env: dict[str, str]) -> float:
    seconds, output = checked(["dvc", "repro"], project, env)
    if UP_TO_DATE not in output:
        raise RuntimeError(f"a no-op dvc repro still ran stages in {project}:\n{output[-4000:]}")
    return seconds


def noop_flow(project: Path, env: dict[str, str]) -> float:
    """The flow through its command line, exactly as the README runs it."""
    cmd = [sys.executable, "-m", "pipeline.flows", "--project-dir", str(project)]
    seconds, _ = checked(cmd, project, env)
    status = subprocess.run(
        ["dvc", "status", "--json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if status.returncode != 0 or json.loads(status.stdout or "{}") != {}:
        raise RuntimeError(f"after the flow, dvc status in {project}: {status.stdout}")
    return seconds


def stop_flow_server(project: Path, env: dict[str, str]) -> None:
    """Stop the server the flow left running for later flows, where the project has one (its
    `pipeline.local_server stop`, as `make flow-stop` runs it); the ephemeral one is gone."""
    if (project / "pipeline" / "local_server.py").is_file():
        checked([sys.executable, "-m", "pipeline.local_server", "stop"], project, env)


def measure(
    project: Path, env: dict[str, str], repeats: int, noops: int, flows: int
) -> dict[str, Any]:
    print("dvc repro --force ...", flush=True)
    forced, stages = forced_repro(project, env)
    for stage, seconds in stages.items():
        print(f"  {stage:<32}{seconds:>7.1f} s")
    print(f"  {'total':<32}{forced:>7.1f} s   (goal <= {FORCED_GOAL_S:.0f} s)")
    print("imports per stage module ...", flush=True)
    imports = {
        module: import_seconds(module, project, env, repeats) for module in stage_modules(project)
    }
    for module, seconds in imports.items():
        print(f"  traindev.stages.{module:<16}{seconds:>7.2f} s")
    print(f"no-op dvc repro x{noops} ...", flush=True)
    noop_runs = [noop_repro(project, env) for _ in range(noops)]
    runs = ", ".join(f"{seconds:.2f}" for seconds in noop_runs)
    print(f"  median {statistics.median(noop_runs):.2f} s of {runs}")
    print(f"the reproduce flow with nothing to do x{flows} ...", flush=True)
    try:
        flow_runs = [noop_flow(project, env) for _ in range(flows)]
    finally:
        stop_flow_server(project, env)
    later = flow_runs[1:] or flow_runs
    print(f"  first {flow_runs[0]:.1f} s, later median {statistics.median(later):.1f} s")
    return {
        "forced_repro_s": forced,
        "stage_s": stages,
        "import_s": imports,
        "noop_repro_s": noop_runs,
        "flow_s": flow_runs,
    }


def figures(report: dict[str, Any]) -> list[Figure]:
    forced = report["forced_repro_s"]
    noop = statistics.median(report["noop_repro_s"])
    flows = report["flow_s"]
    flow = statistics.median(flows[1:] or flows)
    out = [
        figure(
            "dvc repro --force",
            forced,
            "s",
            goal=f"<= {FORCED_GOAL_S:.0f} s",
            goal_met=forced <= FORCED_GOAL_S,
        ),
        figure(
            f"no-op dvc repro (median of {len(report['noop_repro_s'])})",
            noop,
            "s",
            goal=f"<= {NOOP_GOAL_S:.0f} s",
            goal_met=noop <= NOOP_GOAL_S,
        ),
        figure(
            "reproduce flow, nothing to do (after the first)",
            flow,
            "s",
            baseline=noop,
            baseline_name="no-op dvc repro",
            goal=f"flow - dvc repro <= {FLOW_GOAL_S:.0f} s",
            goal_met=flow - noop <= FLOW_GOAL_S,
        ),
        figure("reproduce flow, nothing to do, first run", flows[0], "s"),
    ]
    out += [
        figure(f"imports of traindev.stages.{m}", s, "s") for m, s in report["import_s"].items()
    ]
    out += [figure(f"stage {stage}", seconds, "s") for stage, seconds in report["stage_s"].items()]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the project here and keep it")
    parser.add_argument("--repeats", type=int, default=3, help="import probes per stage (3)")
    parser.add_argument("--flows", type=int, default=3, help="no-op flows: the first + later (3)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.flows < 1:
        parser.error("--repeats and --flows must be at least 1")
    bench = open_run(__file__, args, argv)
    params = tiny_params() if args.dry_run else yaml.safe_load((ROOT / "params.yaml").read_text())
    repeats, noops, flows = (1, 2, 1) if args.dry_run else (args.repeats, NOOP_REPEATS, args.flows)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="traindev-loop-"))
    try:
        env = bench_env(workdir / "prefect-home")
        project = make_project(workdir / "project", params)
        if args.dry_run:
            upstream_only(project, DRY_RUN_LAST_STAGE)
        report = measure(project, env, repeats, noops, flows)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report["params"] = f"tiny, up to {DRY_RUN_LAST_STAGE}" if args.dry_run else "params.yaml"
    bench.write(figures(report), report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
