"""The stage graph as DVC sees it (foreach expanded), and DVC run from this environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from graphlib import TopologicalSorter
from pathlib import Path


def run_in_environment(
    command: list[str], cwd: Path | str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a command with this Python environment's scripts (`traindev`, `torchrun`) on PATH.

    A flow started from an IDE or a scheduler may not have the virtualenv activated; the
    stages' commands must still resolve to the same installation.
    """
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, **(env or {})}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def dvc(
    *args: str, cwd: Path | str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run DVC from this Python environment."""
    return run_in_environment([sys.executable, "-m", "dvc", *args], cwd, env)


def stage_graph(project_dir: Path | str) -> dict[str, set[str]]:
    """Stage name -> the stages it depends on."""
    return pipeline_state(project_dir, with_status=False)[0]


def pipeline_state(
    project_dir: Path | str, with_status: bool = True
) -> tuple[dict[str, set[str]], set[str] | None]:
    """The stage graph and the stages `dvc status` reports changed, from one read of dvc.yaml.

    In-process through DVC's `Repo`, as `dvc dag` and `dvc status` compute them: two DVC
    commands would each pay Python's start, DVC's import and the parse of dvc.yaml with its
    params interpolation (seconds, on a flow with nothing to do). The stale set is None when
    DVC cannot tell; the caller then runs every stage and DVC's own message surfaces there.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(project_dir)) as repo:
            nodes = repo.index.graph
            graph = {
                address(stage): {address(upstream) for upstream in nodes.successors(stage)}
                for stage in nodes
            }
            if not with_status:
                return graph, None
            try:
                changed = repo.status()
            except DvcException:
                return graph, None
            # status() names stages relative to this process's working directory
            named = {stage.addressing: address(stage) for stage in nodes}
            return graph, {named.get(stage, stage) for stage in changed}
    except DvcException as exc:
        raise RuntimeError(f"DVC cannot read the pipeline in {project_dir}: {causes(exc)}") from exc


def address(stage) -> str:
    """A stage's name as DVC prints it when run in the repository root (`train@lenet5`, or
    `sub/dvc.yaml:name`); DVC's own `addressing` is relative to the working directory."""
    from dvc.dvcfile import PROJECT_FILE

    name = getattr(stage, "name", None)  # a .dvc file's stage has none
    if name is None:
        return stage.path_in_repo
    return name if stage.path_in_repo == PROJECT_FILE else f"{stage.path_in_repo}:{name}"


def causes(exc: BaseException) -> str:
    """An exception and its causes in one line, as DVC's command line prints them."""
    messages = []
    while exc is not None:
        messages.append(str(exc))
        exc = exc.__cause__
    return ": ".join(message for message in messages if message)


def stage_order(graph: dict[str, set[str]]) -> list[str]:
    """A dependency order, deterministic: ties broken by name."""
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order
