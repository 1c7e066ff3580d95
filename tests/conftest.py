"""Shared fixtures: the project's params.yaml, and a tiny real project reproduced once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from helpers.dvc_project import Project, make_project, run, tiny_params
from helpers.repository import PROJECT_ROOT

import traindev  # noqa: F401  (quiet, offline tool settings before anything imports them)


@pytest.fixture
def default_params() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


@pytest.fixture(scope="session")
def reproduced_project(tmp_path_factory) -> Project:
    """A tiny project after one real `dvc repro`, committed with its dvc.lock."""
    root = make_project(tmp_path_factory.mktemp("project"), tiny_params())
    project = Project(root, run(["dvc", "repro"], root))
    project.commit("first reproduction")
    return project


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` run only where CUDA is visible (the CI machine has none)."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread for modules of many tiny forwards: on 2 shared cores OpenMP's
    second thread mostly spins (model test modules measured 3-4x slower with two)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch) -> Iterator[str]:
    """MLflow on this test's own SQLite file, for stages run in-process.

    `mlflow.set_tracking_uri` (which the stages call) also exports MLFLOW_TRACKING_URI, and it
    would leak into every later test of the session: both are reset afterwards.
    """
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    yield uri
    mlflow.set_tracking_uri(None)
