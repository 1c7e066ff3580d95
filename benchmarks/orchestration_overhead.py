"""What the Prefect layer costs: `reproduce` against a plain `dvc repro`, and sweep parallelism.

1. Overhead. Two fresh temporary git + DVC copies of the project (benchmark_projects'
   make_project, the project's params.yaml or, with --tiny, its tiny_params). In one, `dvc repro`
   is the baseline; in the other, `python -m pipeline.flows --ephemeral --project-dir <copy>`
   runs in a subprocess, so Prefect's import, the ephemeral server's start-up and one
   `dvc status` plus one `dvc repro --single-item` per stage that may have work all count, as
   a user sees them. Measured twice: "everything to do" (empty cache) and "nothing to do" (both
   copies just reproduced). The issue's goal: at most 10 s of absolute overhead in each case.
   Then again in two fresh copies with a running `prefect server start` (PREFECT_API_URL), as
   a served, scheduled deployment runs: no temporary server to start per flow.
2. Sweep parallelism. A tiny project (logistic_regression only, sweep.space over train.lr on a
   log scale and train.beta1 on a 1 - beta log scale) is reproduced and committed, then copied;
   `python -m pipeline.sweep` (run_sweep) runs N coarse trials, no fine round, with parallelism 1
   in one copy and 2 in the other. The sweep's seed is fixed, so both sample the same points.
   Each copy's own Prefect server (pipeline/local_server.py) is started before its sweep is
   timed and stopped after it, so neither figure includes a server start.

Every subprocess has this virtualenv's bin directory first on PATH (the stages run `traindev`),
no MLFLOW_TRACKING_URI (each copy logs to its own sqlite:///<copy>/mlflow.db), no
PREFECT_API_URL, and PREFECT_HOME in a temporary directory: the user's Prefect database is never
touched. A first no-op flow sets that fresh database up (reported, not counted); a second one
gives Prefect's floor: the part of the overhead paid once per flow, not per stage.
Timings are wall clock and noisy on a shared machine; the record keeps the load average.

    python benchmarks/orchestration_overhead.py --tiny              # ~8 min on 2 cores
    python benchmarks/orchestration_overhead.py                     # default params: ~12 min
    python benchmarks/orchestration_overhead.py --only sweep --sweep-trials 6
    python benchmarks/orchestration_overhead.py --dry-run   # tiny, `ingest` only, no sweep
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from benchmark_projects import (
    bench_env,
    local_prefect_server,
    make_project,
    tiny_params,
    upstream_only,
)
from benchmark_record import ROOT, Figure, add_arguments, figure, open_run

from pipeline.dvc_graph import stage_graph

GOAL_S = 10.0
SWEEP_SPACE = {
    "train.lr": {"scale": "log", "low": 1.0e-3, "high": 1.0e-1},
    "train.beta1": {"scale": "one_minus_log", "low": 0.8, "high": 0.99},
}
LOCAL_SERVER = [sys.executable, "-m", "pipeline.local_server"]  # a copy's own Prefect server
NOOP_FLOW = "from prefect import flow\n@flow\ndef noop():\n    pass\nnoop()\n"


class Timing(NamedTuple):
    wall: float
    cpu: float  # user + system seconds of the command and every process it waited for


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> Timing:
    """Wall and CPU seconds of one command; a failure stops the benchmark with its output.

    CPU time is the steadier figure on a shared machine: other work stretches wall time.
    """
    cpu, started = children_cpu(), time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    timing = Timing(time.perf_counter() - started, children_cpu() - cpu)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-4000:]
        raise RuntimeError(f"`{' '.join(cmd)}` in {cwd} failed ({result.returncode}):\n{tail}")
    return timing


def up_to_date(project: Path, env: dict[str, str]) -> bool:
    """Whether DVC finds nothing left to run: both sides must really have reproduced it all."""
    cmd = ["dvc", "status", "--json"]
    result = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout or "{}") == {}


def commit(project: Path, env: dict[str, str], message: str) -> None:
    for cmd in (["git", "add", "-A"], ["git", "commit", "-q", "-m", message]):
        subprocess.run(cmd, cwd=project, env=env, capture_output=True, check=True)


CASES = ("everything to do", "nothing to do")


def measure_overhead(
    work: Path,
    tiny: bool,
    env: dict[str, str],
    last_stage: str | None = None,
    cases_run: tuple[str, ...] = CASES,
) -> dict[str, Any]:
    """dvc repro in one copy, the reproduce flow in another; empty cache, then all up to date.
    `last_stage` cuts both copies' pipelines to that stage and what it depends on."""
    params = tiny_params() if tiny else yaml.safe_load((ROOT / "params.yaml").read_text())
    work.mkdir(parents=True)
    plain = make_project(work / "plain", params)
    flowed = make_project(work / "flow", params)
    if last_stage is not None:
        upstream_only(plain, last_stage)
        upstream_only(flowed, last_stage)
    flow_cmd = [sys.executable, "-m", "pipeline.flows", "--ephemeral", "--project-dir", str(flowed)]
    cases: dict[str, Any] = {}
    for case in cases_run:
        baseline = timed(["dvc", "repro"], plain, env)
        flow = timed(flow_cmd, flowed, env)
        if not (up_to_date(plain, env) and up_to_date(flowed, env)):
            raise RuntimeError(f"{case}: a copy still has stages to run ({plain}, {flowed})")
        overhead = flow.wall - baseline.wall
        cases[case] = {
            "dvc_repro_s": baseline.wall,
            "flow_s": flow.wall,
            "overhead_s": overhead,
            "ratio": flow.wall / baseline.wall,
            "goal_met": overhead <= GOAL_S,
            "dvc_repro_cpu_s": baseline.cpu,
            "flow_cpu_s": flow.cpu,
            "cpu_overhead_s": flow.cpu - baseline.cpu,
        }
    return {
        "params": "tiny" if tiny else "default",
        "stages": len(stage_graph(flowed)),
        "cases": cases,
    }


def sweep_params() -> dict[str, Any]:
    params = tiny_params()
    params["train"]["architectures"] = ["logistic_regression"]
    params["sweep"]["space"] = SWEEP_SPACE
    return params


def measure_sweep(work: Path, trials: int, env: dict[str, str]) -> dict[str, Any]:
    """The same N-trial sweep at parallelism 1 and 2, each in its own reproduced copy."""
    source = make_project(work / "sweep-1", sweep_params())
    timed(["dvc", "repro"], source, env)
    commit(source, env, "reproduced: trials reuse the cached upstream stages")
    shutil.copytree(source, work / "sweep-2", symlinks=True)
    # The copy logs to a tracking store of its own (git ignores both, so it stays clean).
    (work / "sweep-2" / "mlflow.db").unlink(missing_ok=True)
    shutil.rmtree(work / "sweep-2" / "mlruns", ignore_errors=True)
    results: dict[str, Any] = {"trials": trials}
    for parallelism in (1, 2):
        project = work / f"sweep-{parallelism}"
        name = f"bench-p{parallelism}"
        cmd = [sys.executable, "-m", "pipeline.sweep", "--project-dir", str(project)]
        cmd += ["--name", name, "--trials", str(trials), "--fine-trials", "0"]
        cmd += ["--parallelism", str(parallelism)]
        timed([*LOCAL_SERVER, "start"], project, env)  # as the first `make flow` there would
        try:
            results[f"parallelism_{parallelism}_s"] = timed(cmd, project, env).wall
        finally:
            timed([*LOCAL_SERVER, "stop"], project, env)
        summary = json.loads((project / "reports/sweeps" / f"{name}.json").read_text())
        if summary["failed"]:
            raise RuntimeError(f"sweep at parallelism {parallelism}: {summary['failed']}")
    results["speedup"] = results["parallelism_1_s"] / results["parallelism_2_s"]
    return results


def versions() -> dict[str, str]:
    return {"dvc": version("dvc"), "prefect": version("prefect")}


def print_overhead(result: dict[str, Any], title: str) -> None:
    goal = f"<= {GOAL_S:.0f} s?"
    heads = ("dvc repro", "flow", "overhead", "ratio", goal, "CPU overhead")
    print("\n" + f"{title:<28}" + "".join(f"{h:>13}" for h in heads))
    for case, row in result["cases"].items():
        cells = [f"{row[key]:.1f} s" for key in ("dvc_repro_s", "flow_s", "overhead_s")]
        cells += [f"{row['ratio']:.2f}x", "met" if row["goal_met"] else "MISSED"]
        cells += [f"{row['cpu_overhead_s']:.1f} s"]
        print(f"{case:<28}" + "".join(f"{cell:>13}" for cell in cells))


def print_sweep(result: dict[str, Any]) -> None:
    print(f"sweep: {result['trials']} coarse trials, logistic_regression, tiny params")
    print(f"  parallelism 1  {result['parallelism_1_s']:>7.1f} s")
    print(
        f"  parallelism 2  {result['parallelism_2_s']:>7.1f} s   speed-up {result['speedup']:.2f}x"
    )


def figures(report: dict[str, Any]) -> list[Figure]:
    """The flow against `dvc repro` (the baseline) per case and server; the sweep's speed-up."""
    out = []
    if "noop_flow_s" in report:
        out.append(figure("a no-op flow (Prefect's floor per flow)", report["noop_flow_s"], "s"))
    for key, server in (("overhead", "ephemeral"), ("overhead_running_server", "running")):
        for case, row in report.get(key, {}).get("cases", {}).items():
            out.append(
                figure(
                    f"reproduce flow, {case}, {server} server",
                    row["flow_s"],
                    "s",
                    baseline=row["dvc_repro_s"],
                    baseline_name="dvc repro",
                    goal=f"flow - dvc repro <= {GOAL_S:.0f} s",
                    goal_met=row["goal_met"],
                )
            )
    if "sweep" in report:
        sweep = report["sweep"]
        out.append(
            figure(
                f"sweep of {sweep['trials']} trials, parallelism 2",
                sweep["parallelism_2_s"],
                "s",
                baseline=sweep["parallelism_1_s"],
                baseline_name="parallelism 1",
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("overhead", "sweep"), help="run one part only")
    parser.add_argument("--tiny", action="store_true", help="tiny params for the overhead part")
    parser.add_argument("--sweep-trials", type=int, default=4, help="trials per sweep (4)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.sweep_trials < 1:
        parser.error("--sweep-trials must be at least 1")
    bench = open_run(__file__, args, argv)
    if args.dry_run:  # the overhead on the ephemeral server, everything to do, `ingest` only
        args.tiny, args.only = True, "overhead"

    info = versions()
    print("orchestration overhead: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    report: dict[str, Any] = {"versions": info}
    with tempfile.TemporaryDirectory(prefix="traindev-orch-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        env = bench_env(work / "prefect-home")
        if args.dry_run:  # one flow only: each Prefect start-up costs seconds
            print("dry run: the overhead with everything to do, `ingest` only ...", flush=True)
            report["overhead"] = measure_overhead(
                work / "ephemeral", True, env, last_stage="ingest", cases_run=CASES[:1]
            )
            print_overhead(report["overhead"], "ephemeral server")
        else:
            first_use = timed([sys.executable, "-c", NOOP_FLOW], ROOT, env).wall  # ROOT's config
            noop = timed([sys.executable, "-c", NOOP_FLOW], ROOT, env).wall
            report.update(prefect_first_use_s=first_use, noop_flow_s=noop)
            print(f"prefect first use of a new PREFECT_HOME (database set-up): {first_use:.1f} s")
            print(f"a no-op flow (python, prefect import, ephemeral server, one run): {noop:.1f} s")
        if args.only in (None, "overhead") and not args.dry_run:
            print(f"overhead on {'tiny' if args.tiny else 'the default'} params ...", flush=True)
            report["overhead"] = measure_overhead(work / "ephemeral", args.tiny, env)
            print_overhead(report["overhead"], "ephemeral server")
            with local_prefect_server(env, work) as url:
                served_env = {**env, "PREFECT_API_URL": url}
                noop = timed([sys.executable, "-c", NOOP_FLOW], ROOT, served_env).wall
                report["noop_flow_running_server_s"] = noop
                report["overhead_running_server"] = measure_overhead(
                    work / "running", args.tiny, served_env
                )
            print_overhead(report["overhead_running_server"], "running server")
            print(
                f"a no-op flow against the running server: {noop:.1f} s; the pipeline has "
                f"{report['overhead']['stages']} stages; the flow runs `dvc status` once, then "
                "`dvc repro --single-item` only for stages with work"
            )
        if args.only in (None, "sweep"):
            print(f"\nsweep of {args.sweep_trials} trials ...", flush=True)
            report["sweep"] = measure_sweep(work, args.sweep_trials, env)
            print_sweep(report["sweep"])
    bench.write(figures(report), report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
