"""The scale-out path with real binaries: a DVC remote another clone pulls from, and an
MLflow tracking server (database backend, proxied artifact store) that stages log to."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from helpers.background_servers import free_port, start_in_group, stop_group
from helpers.dvc_project import Project, run
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.e2e

ARCH = "deep_nn"
BIN = Path(sys.executable).parent
SERVER_START_TIMEOUT_S = 90
SERVER_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # Off: the GenAI job runner starts seven huey consumers and leaves stores in /dev/shm.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def clone_with_remote(source: Path, remote: Path, dest: Path) -> Project:
    """A fresh `git clone` (code, params, dvc.lock; no data) whose default remote is `remote`."""
    run(["git", "clone", "-q", str(source), str(dest)], dest.parent)
    clone = Project(dest, subprocess.CompletedProcess([], 0))
    clone.dvc("remote", "add", "-d", "local", str(remote))
    return clone


@pytest.fixture(scope="module")
def dvc_remote(reproduced_project: Project, tmp_path_factory) -> Path:
    """A local-path remote holding the outputs the shared project's last commit locks.

    Pushed from a clone of that commit that reads the shared project's cache, so the
    session fixture other tests use is only read, and what they left uncommitted in its
    workspace is not what gets pushed.
    """
    remote = tmp_path_factory.mktemp("dvc-remote")
    pusher = clone_with_remote(
        reproduced_project.root, remote, tmp_path_factory.mktemp("pusher") / "clone"
    )
    pusher.dvc("cache", "dir", "--local", str(reproduced_project.root / ".dvc/cache"))
    pusher.dvc("push")
    return remote


def lock_outs(root: Path) -> dict[str, str]:
    """Every output path in dvc.lock and the md5 DVC recorded for it."""
    stages = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    return {out["path"]: out["md5"] for stage in stages.values() for out in stage.get("outs", [])}


def dir_entries(root: Path, dir_md5: str) -> list[dict[str, str]]:
    """The files DVC's `.dir` manifest lists for a directory output (from the pulled cache)."""
    digest = dir_md5.removesuffix(".dir")
    manifest = root / ".dvc/cache/files/md5" / digest[:2] / f"{digest[2:]}.dir"
    return json.loads(manifest.read_text())


def test_a_fresh_clone_pulls_every_output_from_a_local_remote_with_the_locked_md5s(
    reproduced_project, dvc_remote, tmp_path
):
    clone = clone_with_remote(reproduced_project.root, dvc_remote, tmp_path / "clone")
    assert not (clone.root / "data/split").exists()

    clone.dvc("pull")

    outs = lock_outs(clone.root)
    assert {"data/split", f"data/models/{ARCH}", "reports/report.html"} <= set(outs)
    assert (clone.root / f"data/models/{ARCH}/model.pt").is_file()
    for path, locked in outs.items():
        if locked.endswith(".dir"):
            for entry in dir_entries(clone.root, locked):
                assert md5(clone.root / path / entry["relpath"]) == entry["md5"], path
        else:
            assert md5(clone.root / path) == locked, path
    assert "Data and pipelines are up to date" in clone.dvc("status").stdout
    assert "Cache and remote 'local' are in sync" in clone.dvc("status", "--cloud").stdout


def wait_for_health(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mlflow server exited ({server.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(
        f"mlflow server not healthy in {SERVER_START_TIMEOUT_S} s:\n{log.read_text()}"
    )


@pytest.fixture
def mlflow_server(tmp_path) -> Iterator[tuple[str, Path]]:
    """A real `mlflow server` on SQLite that proxies artifact uploads into its own directory.

    Yields (url, artifacts directory); the whole process group is stopped afterwards.
    """
    home = tmp_path / "mlflow-server"
    home.mkdir()
    artifacts = home / "artifacts"
    port = free_port()
    log = home / "server.log"
    command = [
        str(BIN / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{home / 'server.db'}",
        "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, **SERVER_ENV}
    env.pop("MLFLOW_TRACKING_URI", None)
    server = start_in_group(command, env, home, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, server, log)
        yield url, artifacts
    finally:
        stop_group(server)


def repro_tracked_at(clone: Project, tracking_uri: str, *stages: str) -> str:
    """`dvc repro` with MLFLOW_TRACKING_URI set (the harness's `run` drops it on purpose)."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": tracking_uri,
    }
    result = subprocess.run(
        ["dvc", "repro", "--force", "--single-item", *stages],
        cwd=clone.root, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result.stdout


def test_train_and_evaluate_log_params_metrics_and_artifacts_to_an_mlflow_server(
    reproduced_project, dvc_remote, mlflow_server, tmp_path
):
    url, artifacts = mlflow_server
    clone = clone_with_remote(reproduced_project.root, dvc_remote, tmp_path / "clone")
    # Only the training data (the split, and the offline augmented copies, empty by default):
    # train and evaluate remake the rest.
    clone.dvc("pull", "split", "augment")

    repro_tracked_at(clone, url, f"train@{ARCH}", f"evaluate@{ARCH}")

    client = MlflowClient(tracking_uri=url)
    experiment = client.get_experiment_by_name("traindev")
    assert experiment is not None and experiment.artifact_location.startswith("mlflow-artifacts:")
    (found,) = client.search_runs([experiment.experiment_id])
    model_dir = clone.root / f"data/models/{ARCH}"
    run_record = clone.root / f"reports/runs/{ARCH}/training.json"
    assert found.info.run_id == json.loads(run_record.read_text())["run_id"]
    params = yaml.safe_load((clone.root / "params.yaml").read_text())
    assert found.data.params["train.epochs"] == str(params["train"]["epochs"])
    assert found.data.tags["architecture"] == ARCH
    metrics = json.loads((clone.root / f"reports/metrics/{ARCH}.json").read_text())
    assert found.data.metrics["final.dev.error"] == pytest.approx(metrics["splits"]["dev"]["error"])

    logged = {item.path for item in client.list_artifacts(found.info.run_id)}
    assert {"checkpoint", "evaluation"} <= logged
    checkpoint = client.download_artifacts(found.info.run_id, "checkpoint/model.pt", str(tmp_path))
    assert md5(Path(checkpoint)) == md5(model_dir / "model.pt")
    (model,) = client.search_logged_models([experiment.experiment_id])
    assert model.source_run_id == found.info.run_id and model.name == "model"

    # The files live in the server's artifact store; the project keeps no tracking data.
    stored = {path.relative_to(artifacts).as_posix() for path in artifacts.rglob("*")}
    assert any(
        path.endswith(f"{found.info.run_id}/artifacts/checkpoint/model.pt") for path in stored
    )
    assert any(path.endswith(f"{model.model_id}/artifacts/MLmodel") for path in stored)
    assert not (clone.root / "mlflow.db").exists() and not (clone.root / "mlruns").exists()
