"""Headless Chromium over the DevTools protocol, for opening generated pages in tests.

Why the DevTools protocol and not playwright: playwright's pip package is large, wants its own
browser download, and brings a Node driver; the distribution's `chromium` plus the
`websockets` client (already installed, and pinned, as a Prefect dependency) do the same in a
hundred lines. The protocol (not `--dump-dom` / `--screenshot` / `--log-net-log` runs, one
browser start each) lets one browser both see every request a page makes and read the page
after it has loaded.

The browser's own network is shut: every host name resolves to nothing and every URL goes
through a proxy on a port nobody listens on (loopback included), so a page that reaches out
fails instead of leaking; the requests it tried are still recorded (`Page.requests`).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
START_TIMEOUT_S = 30.0
EVENT_TIMEOUT_S = 30.0
WIDTH, HEIGHT = 1280, 900


def find_chromium() -> str | None:
    """The first Chromium-like browser on PATH (Debian's package installs `chromium`)."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def chromium_command(executable: str, profile: Path) -> list[str]:
    command = [
        executable,
        "--headless",
        "--remote-debugging-port=0",  # the browser picks a free port and writes it to the profile
        f"--user-data-dir={profile}",
        # No network: no name resolves, and every request (loopback too) goes to a dead proxy.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        # Nothing of the browser's own (updates, sync, metrics) runs in the background.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
        f"--window-size={WIDTH},{HEIGHT}",
        "about:blank",
    ]
    if os.geteuid() == 0:  # Chromium refuses to run its sandbox as root
        command.insert(1, "--no-sandbox")
    return command


@dataclass
class Page:
    """One tab, attached through a flat DevTools session."""

    browser: Browser
    session: str
    requests: list[str] = field(default_factory=list)  # every URL the page asked for

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def open(self, url: str) -> None:
        """Navigate and wait for the load event (every image and style loaded or failed)."""
        reply = self.send("Page.navigate", url=url)
        if reply.get("errorText"):
            raise RuntimeError(f"cannot open {url}: {reply['errorText']}")
        self.browser.wait_for("Page.loadEventFired", self.session)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        reply = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression!r} raised: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """The whole page (not only the viewport) as a PNG."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.send(
            "Page.captureScreenshot",
            format="png",
            clip=clip,
            captureBeyondViewport=True,
            optimizeForSpeed=True,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


class Browser:
    """A DevTools connection: commands answered by id, events kept until asked for."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._pages: dict[str, Page] = {}

    def send(self, method: str, params: dict[str, Any], session: str | None = None) -> dict:
        message_id = next(self._ids)
        message = {"id": message_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        while True:
            reply = self._receive()
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def wait_for(self, event: str, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while time.monotonic() < deadline:
            message = self._receive(deadline - time.monotonic())
            if message.get("method") == event and message.get("sessionId") == session:
                return message.get("params", {})
        raise TimeoutError(f"no {event} within {EVENT_TIMEOUT_S} s")

    def new_page(self) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(self, attached["sessionId"])
        self._pages[page.session] = page
        page.send("Network.enable")
        page.send("Page.enable")
        page.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        return page

    def _receive(self, timeout: float = EVENT_TIMEOUT_S) -> dict[str, Any]:
        message = json.loads(self._socket.recv(timeout=max(timeout, 0.01)))
        page = self._pages.get(message.get("sessionId", ""))
        if page is not None and message.get("method") == "Network.requestWillBeSent":
            page.requests.append(message["params"]["request"]["url"])
        return message


def _devtools_endpoint(profile: Path, process: subprocess.Popen) -> str:
    """The browser's websocket URL, which it writes to the profile once it listens."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the browser exited with {process.returncode} before listening")
        lines = port_file.read_text().split() if port_file.exists() else []
        if len(lines) == 2:
            port, path = lines
            return f"ws://127.0.0.1:{port}{path}"
        time.sleep(0.05)
    raise TimeoutError(f"the browser wrote no {port_file.name} within {START_TIMEOUT_S} s")


@contextmanager
def headless_chromium(executable: str) -> Iterator[Browser]:
    """A fresh offline browser with a throw-away profile, closed (and waited for) on exit."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as scratch:
        profile = Path(scratch)
        process = subprocess.Popen(
            chromium_command(executable, profile),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            endpoint = _devtools_endpoint(profile, process)
            with connect(endpoint, max_size=None, open_timeout=START_TIMEOUT_S) as socket:
                yield Browser(socket)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
