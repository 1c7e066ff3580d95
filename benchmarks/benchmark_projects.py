"""Fresh git + DVC copies of this project, for the benchmarks that reproduce the real pipeline.

The copying itself is the test suite's helper (tests/helpers/dvc_project.py: `make_project`,
whose PROJECT_FILES list the files a copy needs), imported here and nowhere else in
benchmarks/: a benchmark that kept its own list of files drifted from the project (it left out
data/raw, and its first `dvc repro` failed). This module adds what only benchmarks need:
cutting a copy's pipeline down to the stages a dry run reproduces.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers.background_servers import local_prefect_server  # noqa: E402
from helpers.dvc_project import make_project, run, tiny_params  # noqa: E402

from pipeline.dvc_graph import stage_graph  # noqa: E402

__all__ = ["local_prefect_server", "make_project", "run", "tiny_params", "upstream_only"]


def upstream_only(project: Path, last: str) -> list[str]:
    """Keep in the copy's dvc.yaml only `last` and the stages it depends on; commit; returns
    the stages kept (a dry run then reproduces seconds of work through the real commands)."""
    graph = stage_graph(project)
    if last not in graph:
        raise ValueError(f"no stage {last!r} in {project / 'dvc.yaml'}; stages: {sorted(graph)}")
    keep, todo = set(), [last]
    while todo:
        stage = todo.pop()
        if stage not in keep:
            keep.add(stage)
            todo.extend(graph[stage])
    dvc_yaml = project / "dvc.yaml"
    definition = yaml.safe_load(dvc_yaml.read_text())
    # foreach stages expand to name@item: keep a definition when any of its items is kept.
    definition["stages"] = {
        name: body
        for name, body in definition["stages"].items()
        if any(stage == name or stage.startswith(f"{name}@") for stage in keep)
    }
    dvc_yaml.write_text(yaml.safe_dump(definition, sort_keys=False))
    run(["git", "commit", "-q", "-am", f"pipeline up to {last}"], project)
    return sorted(keep)


def bench_env(prefect_home: Path) -> dict[str, str]:
    """The environment of every measured subprocess: this virtualenv's bin directory first on
    PATH (the stages run `traindev`), no MLFLOW_TRACKING_URI (a copy logs to its own
    sqlite:///<copy>/mlflow.db), no PREFECT_API_URL, and PREFECT_HOME in `prefect_home`, so the
    user's Prefect database is never touched."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_HOME"] = str(prefect_home)
    return env
