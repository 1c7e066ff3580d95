"""A real traindev project in a temporary git + DVC repository, for end-to-end tests."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helpers.repository import PROJECT_ROOT


def tiny_params() -> dict[str, Any]:
    """The default params.yaml shrunk to seconds: few synthetic digits, one or two epochs."""
    params = copy.deepcopy(yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text()))
    params["synthesize"].update(count=300, fonts=["DejaVuSans.ttf", "DejaVuSerif.ttf"])
    # Two architectures, an MLP and a CNN: every extra one costs ~20 s of stage start-ups per
    # full reproduction, and the suite reproduces several times.
    params["train"].update(epochs=2, batch_size=32, architectures=["deep_nn", "lenet5"])
    params["models"]["deep_nn"]["hidden_sizes"] = [32]
    # The data-mismatch classifier's cross-validation was the largest part of each analyze
    # (5 folds, three times: all training, then each domain); two folds still score every
    # dev example out of fold, which is all the suite's claims about it need.
    params["analyze"]["mismatch"]["folds"] = 2
    return params


# The report stage depends on reports/source_ablation: its README (never a record of this repo)
PROJECT_FILES = (
    "dvc.yaml",
    "src",
    "pipeline",
    "pyproject.toml",
    "reviews",
    "data/raw",
    "reports/source_ablation/README.md",
)


def project_environment() -> dict[str, str]:
    """The test's virtualenv first on PATH; no MLFLOW_TRACKING_URI, so each project tracks
    into its own sqlite:///<root>/mlflow.db."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run a real binary (dvc, git) with the test's virtualenv first on PATH."""
    env = project_environment()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def make_project(root: Path, params: dict[str, Any]) -> Path:
    """Copy the pipeline definition and code into a fresh git + DVC repository."""
    root.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    shutil.copy2(PROJECT_ROOT / ".gitignore", root / ".gitignore")
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], root)
    run(["git", "config", "user.email", "tests@traindev.invalid"], root)
    run(["git", "config", "user.name", "traindev tests"], root)
    run(["dvc", "init", "-q"], root)
    shutil.copy2(PROJECT_ROOT / ".dvcignore", root / ".dvcignore")
    run(["dvc", "config", "core.analytics", "false"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-q", "-m", "tiny project"], root)
    return root


@dataclass
class Project:
    root: Path
    first_repro: subprocess.CompletedProcess

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["dvc", *args], self.root, check=check)

    def git(self, *args: str) -> subprocess.CompletedProcess:
        return run(["git", *args], self.root)

    def set_param(self, section: str, key: str, value: Any) -> None:
        """Set `section.key`; a dotted key reaches deeper (`models`, `deep_nn.dropout`)."""
        path = self.root / "params.yaml"
        params = yaml.safe_load(path.read_text())
        node = params[section]
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node[parent]
        node[leaf] = value
        path.write_text(yaml.safe_dump(params, sort_keys=False))

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)


def ran_stages(output: str) -> set[str]:
    """Stages that `dvc repro` actually executed, from its log."""
    return set(re.findall(r"Running stage '([^']+)'", output))
