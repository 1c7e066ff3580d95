"""`reproduce`: the DVC pipeline as Prefect tasks, one per stage, in dependency order.

    python -m pipeline.flows            # make flow: on the project's local Prefect server
    python -m pipeline.flows --ephemeral    # on a temporary server, nothing left running

The command line validates params.yaml first (traindev's own messages, before DVC parses
dvc.yaml or any server starts), then runs the flow on the server PREFECT_API_URL names, or
else on the project's own server, started by the first flow and reused by later ones
(pipeline/local_server.py).

DVC decides what is up to date. One `dvc status` up front names the stages whose own
dependencies, params or outputs changed; each of those, and each stage downstream of one that
ran, becomes `dvc repro --single-item <stage>` (which may still find nothing to do). Every
other stage is a task that finishes at once in a "Skipped" state, so the Prefect UI shows the
whole pipeline either way. Retries and timeouts come from the `orchestration` section of
params.yaml.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.states import Completed, State

import traindev  # noqa: F401  (sets the tools quiet and offline)
from pipeline.dvc_graph import dvc, pipeline_state, run_in_environment, stage_order
from pipeline.local_server import ServerError, prefect_api
from traindev.config import ParamsError, TorchrunParams
from traindev.params_file import load_params

SKIPPED_MARKERS = ("didn't change, skipping", "is cached - skipping")


class StageFailed(RuntimeError):
    """A DVC stage exited non-zero; the message carries the stage's own error output."""


def skipped(reason: str) -> State:
    """A completed task shown as "Skipped" in the UI; its result is the string "skipped"."""
    return Completed(name="Skipped", message=reason, data="skipped")


@task(task_run_name="{stage}", persist_result=False)
def run_stage(stage: str, project_dir: str, up_to_date: bool = False) -> str | State:
    """Reproduce one stage ("ran"), or report it skipped when DVC finds nothing to do."""
    logger = get_run_logger()
    if up_to_date:
        logger.info("Stage %r is up to date (dvc status), skipping", stage)
        return skipped("up to date (dvc status)")
    result = dvc("repro", "--single-item", stage, cwd=project_dir)
    for line in (result.stdout + result.stderr).splitlines():
        if line.strip():
            logger.info(line)
    if result.returncode != 0:
        raise StageFailed(f"stage {stage!r} failed:\n{error_lines(result.stderr)}")
    if any(marker in result.stdout for marker in SKIPPED_MARKERS):
        return skipped("up to date (dvc repro)")
    return "ran"


@task(task_run_name="{stage} (torchrun)", persist_result=False)
def run_training_stage_with_torchrun(
    stage: str, project_dir: str, torchrun: TorchrunParams
) -> str | State:
    """A train stage as DDP under torchrun, then `dvc commit` to record its outputs.

    DVC runs a stage's command as one process, so the flow launches the distributed command
    itself (the stage's own `traindev train --arch A`) and hands the result back to DVC. On
    more than one machine, the other nodes run the same torchrun command (docs/scaling-out.md).
    """
    logger = get_run_logger()
    status = dvc("status", "--json", stage, cwd=project_dir)
    if status.returncode == 0 and json.loads(status.stdout or "{}") == {}:
        logger.info("Stage %r didn't change, skipping", stage)
        return skipped("up to date (dvc status)")
    architecture = stage.split("@", 1)[1]
    result = run_in_environment(torchrun_command(torchrun, architecture), project_dir)
    for line in (result.stdout + result.stderr).splitlines():
        if line.strip():
            logger.info(line)
    if result.returncode != 0:
        raise StageFailed(f"stage {stage!r} under torchrun failed:\n{error_lines(result.stderr)}")
    committed = dvc("commit", "--force", stage, cwd=project_dir)
    if committed.returncode != 0:
        raise StageFailed(f"dvc commit {stage} failed:\n{error_lines(committed.stderr)}")
    return "ran"


def torchrun_command(torchrun: TorchrunParams, architecture: str) -> list[str]:
    launcher = str(Path(sys.executable).parent / "torchrun")
    placement = [f"--nnodes={torchrun.nnodes}", f"--nproc-per-node={torchrun.nproc_per_node}"]
    if torchrun.nnodes == 1:
        placement.append("--standalone")
    else:
        placement += [
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint={torchrun.rdzv_endpoint}",
            f"--rdzv-id=traindev-{architecture}",
        ]
    return [launcher, *placement, "-m", "traindev.cli", "train", "--arch", architecture]


def error_lines(stderr: str) -> str:
    """The lines that say what went wrong (traindev's own `error:` lines first)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    own = [line for line in lines if "error:" in line.lower()]
    return "\n".join(own or lines[-20:])


@flow(name="reproduce", log_prints=True)
def reproduce(project_dir: str = ".", params_file: str = "params.yaml") -> dict[str, str]:
    """Run every stage of dvc.yaml in dependency order; returns stage -> ran / skipped."""
    root = Path(project_dir).resolve()
    orchestration = load_params(root / params_file).orchestration
    limits = {
        "retries": orchestration.retries,
        "retry_delay_seconds": orchestration.retry_delay_seconds,
        "timeout_seconds": orchestration.stage_timeout_seconds,
    }
    stage = run_stage.with_options(**limits)
    distributed = run_training_stage_with_torchrun.with_options(**limits)
    torchrun = orchestration.torchrun
    graph, stale = pipeline_state(root)
    outcome: dict[str, str] = {}
    # DVC holds a repository lock while it reproduces, so stages run one at a time.
    for name in stage_order(graph):
        upstream_ran = any(outcome[upstream] == "ran" for upstream in graph[name])
        up_to_date = stale is not None and name not in stale and not upstream_ran
        if torchrun.distributed and name.startswith("train@") and not up_to_date:
            state = distributed(name, str(root), torchrun, return_state=True)
        else:
            state = stage(name, str(root), up_to_date, return_state=True)
        outcome[name] = state.result()
    logger = get_run_logger()
    ran = [name for name, state in outcome.items() if state == "ran"]
    logger.info("reproduced %d stage(s): %s", len(ran), ", ".join(ran) or "none (all up to date)")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the DVC pipeline as a Prefect flow.")
    parser.add_argument("--project-dir", default=".")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument(
        "--ephemeral",
        action="store_true",
        help="Prefect's default: a temporary server for this run unless PREFECT_API_URL is set",
    )
    args = parser.parse_args(argv)
    try:
        load_params(Path(args.project_dir) / args.params)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with contextlib.nullcontext() if args.ephemeral else prefect_api(args.project_dir):
            reproduce(args.project_dir, args.params)
    except ServerError as exc:  # the project's server did not come up: its log says why
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
