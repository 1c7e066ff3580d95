"""The project's own Prefect server: the first flow starts it, later flows reuse it, one
command stops it; params errors are traindev's, before any server or DVC."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest
import yaml
from helpers.dvc_project import project_environment
from helpers.repository import PROJECT_ROOT

from pipeline import local_server
from pipeline.flows import main as flow_main
from pipeline.local_server import PREFECT_HOME, PREFECT_SERVER_FILE, PrefectServer
from traindev.records import read_record, write_record


def params_with(tmp_path: Path, edit) -> Path:
    """A project folder holding the default params.yaml changed by `edit` (nothing else)."""
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    edit(params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return tmp_path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda params: params.update(trian=params.pop("train")),
            "trian: unknown key (did you mean 'train'?)",
        ),
        (
            lambda params: params["train"].update(architectures=["resnet19"]),
            "unknown architecture 'resnet19' (did you mean 'resnet18'?)",
        ),
    ],
    ids=["section-typo", "unknown-architecture"],
)
def test_the_flow_command_reports_traindev_params_errors_before_any_server_or_dvc(
    tmp_path, capsys, edit, message
):
    project = params_with(tmp_path, edit)  # no dvc.yaml at all: DVC is never reached

    assert flow_main(["--project-dir", str(project)]) == 2

    error = capsys.readouterr().err
    assert error.startswith(f"error: {project / 'params.yaml'}: invalid params\n")
    assert message in error
    assert not (project / PREFECT_HOME).exists()  # no server was started for it


def test_a_server_the_user_configured_wins_and_nothing_is_started(tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"})
    with configured, local_server.prefect_api(tmp_path) as url:
        assert url == "http://127.0.0.1:9/api"
    assert not (tmp_path / PREFECT_HOME).exists()


def test_a_recorded_server_whose_process_is_gone_or_recycled_is_not_reused(tmp_path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(finished.pid).create_time()
    finished.wait()
    (tmp_path / PREFECT_HOME).mkdir()
    record = tmp_path / PREFECT_SERVER_FILE
    url = "http://127.0.0.1:9/api"
    write_record(record, PrefectServer(pid=finished.pid, create_time=created, url=url))
    assert local_server.running(tmp_path) is None
    # a live pid that is some other process: its start time differs from the recorded one
    write_record(record, PrefectServer(pid=os.getpid(), create_time=created - 60, url=url))
    assert local_server.running(tmp_path) is None
    assert local_server.stop(tmp_path).pid == os.getpid()  # forgotten, never signalled
    assert not record.exists()


def flow_runs(url: str) -> list[dict]:
    request = urllib.request.Request(
        f"{url}/flow_runs/filter", data=b"{}", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def flowed_project(reproduced_project, tmp_path):
    """A reproduced copy; whatever Prefect server a test starts in it is stopped afterwards."""
    root = tmp_path / "flowed"
    shutil.copytree(reproduced_project.root, root, symlinks=True)
    yield root
    local_server.stop(root)


@pytest.mark.e2e
def test_the_second_flow_reuses_the_server_the_first_started_and_stop_ends_it(
    flowed_project, tmp_path
):
    env = project_environment()
    env.pop("PREFECT_API_URL", None)  # as `make flow` on a fresh clone: no server configured
    env["PREFECT_HOME"] = str(tmp_path / "client-home")  # the user's ~/.prefect stays untouched

    def command(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", *args],
            cwd=flowed_project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    first = command("pipeline.flows")
    server = read_record(flowed_project / PREFECT_SERVER_FILE, PrefectServer)
    assert f"Prefect server: starting on {server.url}" in first.stderr
    assert "reproduced 0 stage(s): none (all up to date)" in first.stderr

    second = command("pipeline.flows")
    assert "starting on" not in second.stderr
    assert f"Prefect server: reusing {server.ui_url} (pid {server.pid})" in second.stderr
    assert read_record(flowed_project / PREFECT_SERVER_FILE, PrefectServer) == server
    runs = flow_runs(server.url)  # both flows ran on it, not on a temporary server
    assert [run["state_type"] for run in runs] == ["COMPLETED", "COMPLETED"]
    assert (flowed_project / ".prefect" / "prefect.db").is_file()  # its state is the project's

    stopped = command("pipeline.local_server", "stop")
    assert f"stopped pid {server.pid}" in stopped.stdout
    assert not (flowed_project / PREFECT_SERVER_FILE).exists()
    assert not local_server.alive(server)
    assert local_server.group_members(server.pid) == []  # nothing of its group is left
    assert not local_server.healthy(server.url)
    assert "not running" in command("pipeline.local_server", "status").stdout


def test_a_server_that_cannot_start_is_reported_with_its_log_and_not_recorded(tmp_path):
    (tmp_path / PREFECT_HOME).mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(local_server.ServerError, match=rf"(?s)exited \(1\).*Port {port}"):
            local_server.start(tmp_path, port)
    assert not (tmp_path / PREFECT_SERVER_FILE).exists()
