"""Servers the end-to-end tests (and the orchestration benchmark) run in the background: a free
loopback port, a process group started with its output in a log and stopped whole (servers
fork workers), and a real local Prefect server."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_in_group(
    command: list[str], env: Mapping[str, str], cwd: Path, log: Path
) -> subprocess.Popen:
    """Start `command` in a new session (its own process group), output into `log`."""
    with log.open("w") as sink:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def local_prefect_server(
    env: Mapping[str, str], workdir: Path, timeout: float = 120.0
) -> Iterator[str]:
    """`prefect server start` on a free loopback port until the block ends; yields its API URL.

    `env` should carry a PREFECT_HOME of the caller's: the server's database lives there.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    prefect = Path(sys.executable).parent / "prefect"
    command = [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    env = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", **env}  # offline: no telemetry
    server = start_in_group(command, env, workdir, workdir / "prefect-server.log")
    try:
        deadline = time.monotonic() + timeout
        while not healthy(url):
            if server.poll() is not None:
                log = (workdir / "prefect-server.log").read_text()[-3000:]
                raise RuntimeError(f"prefect server exited ({server.returncode}):\n{log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server on {url} did not answer within {timeout} s")
            time.sleep(0.5)
        yield url
    finally:
        stop_group(server)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False
