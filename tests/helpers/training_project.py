"""A directory with params.yaml and a written split store, to run `traindev train` in.

Cheaper than a full `dvc repro` when only the train stage is under test: the split is
written directly, and the real CLI runs in a subprocess as DVC would run it.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

from helpers.dvc_project import project_environment
from helpers.repository import PROJECT_ROOT
from traindev import paths
from traindev.data.store import write_store
from traindev.training.checkpoint import load_checkpoint


def digit_like_split(n: int, side: int = 8, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Ten classes, each a bright bar at its own position plus noise: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    pixels = rng.integers(0, 6, (n, side, side, 1)).astype(np.uint8)
    for i, label in enumerate(labels):
        row, col = divmod(int(label), 5)
        pixels[i, 4 * row : 4 * row + 3, col : col + 3] += 10
    split = np.array(["train", "train", "train", "train", "train_dev", "dev", "test"])
    manifest = pd.DataFrame(
        {
            "id": [f"x{i}" for i in range(n)],
            "source": "test",
            "domain": "t",
            "label": labels.astype(str),
            "origin": "real",
            "tags": [[] for _ in range(n)],
            "split": split[np.arange(n) % len(split)],
        }
    )
    return manifest, np.minimum(pixels, 16)


def make_training_dir(root: Path, n: int, train_overrides: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    params = copy.deepcopy(yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text()))
    params["train"].update(architectures=["deep_nn"], **train_overrides)
    params["models"]["deep_nn"].update(hidden_sizes=[64, 64], batch_norm=False, dropout=0.0)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    manifest, pixels = digit_like_split(n)
    write_store(root / paths.SPLIT, manifest, pixels, [str(c) for c in range(10)], 16)
    return root


def environment(threads: int = 1) -> dict[str, str]:
    env = project_environment()
    env.update(OMP_NUM_THREADS=str(threads), CI="1")
    return env


def train_command(arch: str = "deep_nn") -> list[str]:
    return [sys.executable, "-m", "traindev.cli", "train", "--arch", arch]


def run_training(root: Path, command: list[str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command or train_command(), cwd=root, env=environment(), capture_output=True, text=True
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result


def trained_weights(root: Path, arch: str = "deep_nn") -> dict[str, torch.Tensor]:
    return load_checkpoint(root / paths.model_dir(arch) / paths.CHECKPOINT_FILE).state_dict
