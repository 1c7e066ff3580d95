"""The stage graph as DVC sees it (foreach expanded), read from `dvc dag --dot`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from graphlib import TopologicalSorter
from pathlib import Path

_NODE = re.compile(r'^"(?P<name>[^"]+)";$')
_EDGE = re.compile(r'^"(?P<upstream>[^"]+)" -> "(?P<downstream>[^"]+)";$')


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


def stage_graph(project_dir: Path) -> dict[str, set[str]]:
    """Stage name -> the stages it depends on."""
    result = dvc("dag", "--dot", cwd=project_dir)
    if result.returncode != 0:
        raise RuntimeError(f"`dvc dag` failed in {project_dir}:\n{result.stderr.strip()}")
    return parse_dot(result.stdout)


def parse_dot(dot: str) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for line in (line.strip() for line in dot.splitlines()):
        if edge := _EDGE.match(line):
            graph.setdefault(edge["downstream"], set()).add(edge["upstream"])
            graph.setdefault(edge["upstream"], set())
        elif node := _NODE.match(line):
            graph.setdefault(node["name"], set())
    return graph


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
