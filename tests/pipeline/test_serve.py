"""The nightly deployment for real: a local Prefect server, `serve` on a short interval, a
scheduled `reproduce` run that completes."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers.background_servers import local_prefect_server, start_in_group, stop_group
from helpers.repository import PROJECT_ROOT


def api(url: str, path: str, payload: dict | None = None):
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        f"{url}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def wait_for(predicate, seconds: float, what: str, processes=()):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"{process.args} exited: {process.communicate()}"
        try:
            if value := predicate():
                return value
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"{what} within {seconds} s")


@pytest.mark.e2e
def test_a_served_deployment_runs_reproduce_on_its_schedule(reproduced_project, tmp_path):
    project = tmp_path / "served"
    shutil.copytree(reproduced_project.root, project, symlinks=True)
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    with local_prefect_server(env, tmp_path) as url:
        env["PREFECT_API_URL"] = url
        served = start_in_group(
            [
                sys.executable,
                "-m",
                "pipeline.serve",
                "--project-dir",
                str(project),
                "--interval",
                "5",
            ],
            env,
            PROJECT_ROOT,
            tmp_path / "serve.log",
        )
        try:

            def completed_scheduled_runs():
                runs = api(
                    url,
                    "/flow_runs/filter",
                    {
                        "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
                    },
                )
                return [run for run in runs if run.get("deployment_id")]

            runs = wait_for(completed_scheduled_runs, 180, "a scheduled run completed", [served])
            deployment = api(url, f"/deployments/{runs[0]['deployment_id']}")
            assert deployment["name"] == "nightly"
            assert runs[0]["parameters"]["project_dir"] == str(project)
        finally:
            stop_group(served)
    # nothing changed since the reproduction: DVC skipped every stage
    assert "reproduced 0 stage(s): none (all up to date)" in (tmp_path / "serve.log").read_text()
