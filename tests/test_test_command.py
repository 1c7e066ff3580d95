"""The test command CI runs (`.ci/run` -> `make test`) enforces ruff before pytest, so code that
fails lint or formatting fails CI rather than waiting for someone to run `make lint`."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from helpers.repository import PROJECT_ROOT

LINT = ["ruff check .", "ruff format --check ."]


def test_ci_runs_the_readme_test_command():
    commands = [line.strip() for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make test" in commands


def test_make_install_installs_the_pinned_ruff():
    """`make install` installs requirements.lock, so CI lints with the version developers do."""
    pins = (PROJECT_ROOT / "requirements.lock").read_text().splitlines()
    assert any(line.startswith("ruff==") for line in pins)
    assert "-r requirements.lock" in (PROJECT_ROOT / "Makefile").read_text()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_test_runs_ruff_check_and_format_before_pytest():
    # -n prints the recipes without running any (installing included); -B as if nothing were
    # up to date, so the order is the full one a clean clone gets.
    dry = subprocess.run(
        ["make", "-n", "-B", "test"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    lines = [line.strip() for line in dry.stdout.splitlines()]
    assert "pytest" in lines, dry.stdout
    for command in LINT:
        assert command in lines, f"`make test` does not run `{command}`:\n{dry.stdout}"
        assert lines.index(command) < lines.index("pytest"), f"`{command}` runs after pytest"
