"""The project's own Prefect server: started on first need, reused by every later flow.

With no PREFECT_API_URL, Prefect starts a temporary server for each flow process and stops
it at the end: a database migration check and a web server start, 15 s or more on 2 cores,
for a flow that may have nothing to do. Instead the first flow started from the command line
starts `prefect server start` in the background, on loopback, with PREFECT_HOME at
`<project>/.prefect` (its SQLite database and UI files live there, git ignores them), and
records its pid and URL in `.prefect/server.json`; every later flow finds it there, checks
that it answers, and connects. The server keeps the flow runs, so the Prefect UI shows the
history. A server configured by the user (PREFECT_API_URL, or a Prefect profile) always wins.

    python -m pipeline.local_server status    # its URL, or "not running"
    python -m pipeline.local_server stop      # make flow-stop
    python -m pipeline.local_server start [--port 4200]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
from filelock import FileLock

import traindev  # noqa: F401  (sets the tools quiet and offline)
from traindev.records import ReportInputError, read_record, write_record
from traindev.records.base import Record

# Relative to the project root. Here rather than in traindev.paths / traindev.records, which
# every DVC stage depends on: the orchestrator's own state must not put the stages out of date.
PREFECT_HOME = Path(".prefect")  # the server's PREFECT_HOME: its SQLite database, UI files
PREFECT_SERVER_FILE = PREFECT_HOME / "server.json"  # the record later flows find it by
PREFECT_SERVER_LOG = PREFECT_HOME / "server.log"
PREFECT_SERVER_LOCK = PREFECT_HOME / "server.lock"  # held while one flow checks or starts it
STOP_GRACE_S = 15.0


class PrefectServer(Record):
    """`.prefect/server.json`: written once the server answers, removed when it is stopped."""

    pid: int  # leads its own process group: stopping it signals the group
    create_time: float  # the process's start time (psutil): a recycled pid does not match it
    url: str  # the API, http://127.0.0.1:<port>/api; the UI is the same address without /api

    @property
    def ui_url(self) -> str:
        return self.url.removesuffix("/api")


class ServerError(RuntimeError):
    """The local server did not come up; the message carries the end of its log."""


def configured_api_url() -> str | None:
    """The API URL Prefect is set to use (environment, profile, pyproject), if any."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


@contextlib.contextmanager
def prefect_api(project_dir: Path | str = ".") -> Iterator[str]:
    """Point Prefect at a server for the block: the configured one, else the project's own.

    Prefect reads its settings when it is imported, so the URL goes into the settings context
    (this process) and the environment (processes it starts: served runs, Dask workers).
    """
    if url := configured_api_url():
        yield url
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = ensure_running(project_dir).url
    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        if before is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = before


def ensure_running(project_dir: Path | str = ".", port: int | None = None) -> PrefectServer:
    """The project's server, started if it is not running. Safe to call from concurrent flows:
    a lock file serialises the check-and-start, so two flows never start two servers."""
    root = Path(project_dir).resolve()
    (root / PREFECT_HOME).mkdir(parents=True, exist_ok=True)
    with FileLock(root / PREFECT_SERVER_LOCK):
        if server := running(root):
            print(f"Prefect server: reusing {server.ui_url} (pid {server.pid})", file=sys.stderr)
            return server
        forget(root)  # a recorded server that no longer answers: end it before replacing it
        return start(root, port)


def running(project_dir: Path | str = ".") -> PrefectServer | None:
    """The recorded server if its process is the one recorded and its API answers."""
    server = recorded(Path(project_dir))
    if server is None or not alive(server) or not healthy(server.url):
        return None
    return server


def recorded(root: Path) -> PrefectServer | None:
    try:
        return read_record(root / PREFECT_SERVER_FILE, PrefectServer)
    except ReportInputError:  # none recorded, or a file this code cannot read: start afresh
        return None


def start(root: Path, port: int | None = None) -> PrefectServer:
    """`prefect server start` in its own session (a terminal's Ctrl-C or hang-up does not reach
    it), output in .prefect/server.log; returns once /health answers."""
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    port = port or free_port()
    url = f"http://127.0.0.1:{port}/api"
    home = root / PREFECT_HOME
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "prefect", "server", "start"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    log = root / PREFECT_SERVER_LOG
    print(f"Prefect server: starting on {url} (state in {home}) ...", file=sys.stderr)
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    server = PrefectServer(
        pid=process.pid, create_time=psutil.Process(process.pid).create_time(), url=url
    )
    timeout = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()  # pyproject: 120 s
    deadline = time.monotonic() + timeout
    while not healthy(url):
        exited = process.poll() is not None
        if exited or time.monotonic() > deadline:
            problem = f"exited ({process.returncode})" if exited else f"silent for {timeout} s"
            end(server)
            tail = log.read_text(errors="replace")[-3000:]
            raise ServerError(f"prefect server on {url} {problem}; {log}:\n{tail}")
        time.sleep(0.25)
    process.returncode = 0  # it outlives this process by design: no "still running" warning
    write_record(root / PREFECT_SERVER_FILE, server)
    print(
        f"Prefect server: {server.ui_url} (pid {server.pid}); it stays up for later flows, "
        "`make flow-stop` stops it",
        file=sys.stderr,
    )
    return server


def stop(project_dir: Path | str = ".") -> PrefectServer | None:
    """Stop the recorded server and everything in its process group; forget it."""
    root = Path(project_dir).resolve()
    if not (root / PREFECT_HOME).is_dir():
        return None
    with FileLock(root / PREFECT_SERVER_LOCK):
        return forget(root)


def forget(root: Path) -> PrefectServer | None:
    """stop() for a caller that holds the lock."""
    server = recorded(root)
    if server is not None and alive(server):
        end(server)
    (root / PREFECT_SERVER_FILE).unlink(missing_ok=True)
    return server


def end(server: PrefectServer) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after STOP_GRACE_S."""
    group = group_members(server.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    _gone, left = psutil.wait_procs(group, timeout=STOP_GRACE_S)
    if left:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        psutil.wait_procs(left, timeout=STOP_GRACE_S)


def group_members(pgid: int) -> list[psutil.Process]:
    """The live processes of a process group (the server may fork workers)."""
    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
    return members


def alive(server: PrefectServer) -> bool:
    """The recorded process still runs and is the same process (not a recycled pid)."""
    try:
        process = psutil.Process(server.pid)
        return (
            abs(process.create_time() - server.create_time) < 0.5
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.Error:
        return False


def healthy(url: str) -> bool:
    """Whether the API at `url` answers (directly: a loopback address never goes by a proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{url}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The project's local Prefect server.")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--project-dir", default=".")
    parser.add_argument("--port", type=int, help="for start: a fixed port (default: a free one)")
    args = parser.parse_args(argv)
    if args.action == "start":
        ensure_running(args.project_dir, args.port)
    elif args.action == "stop":
        server = stop(args.project_dir)
        print(f"Prefect server: stopped pid {server.pid}" if server else "Prefect server: none")
    elif server := running(args.project_dir):
        print(f"Prefect server: {server.ui_url} (pid {server.pid})")
    else:
        print("Prefect server: not running (the next flow starts it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
