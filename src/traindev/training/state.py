"""The per-epoch training state that lets a killed run resume where it stopped.

It holds everything the next epoch depends on: weights, optimizer and scheduler state,
the loss scaler, every RNG, the learning curves so far, the early-stopping record and
the MLflow run to keep logging into. It is written atomically after each epoch, loaded
with `weights_only=True` (no arbitrary unpickling), and resumed only when its
fingerprint (params, data, world size) matches the run being started.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from traindev.atomic import atomic_file
from traindev.training.checkpoint import CheckpointError, safe_load

STATE_FILE = "last.pt"
FORMAT_VERSION = 1


def fingerprint(settings: dict[str, Any]) -> dict[str, Any]:
    """What must match for a checkpoint to continue this run, plus its hash."""
    canonical = json.dumps(settings, sort_keys=True, default=str)
    return {"sha256": hashlib.sha256(canonical.encode()).hexdigest(), "settings": settings}


def capture_rng() -> dict[str, Any]:
    numpy_kind, numpy_keys, numpy_pos, numpy_gauss, numpy_cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [
            numpy_kind,
            torch.from_numpy(numpy_keys.astype(np.int64)),
            numpy_pos,
            numpy_gauss,
            numpy_cached,
        ],
        "python": random.getstate(),
    }


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, gauss, cached))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


@dataclass
class TrainingState:
    fingerprint: dict[str, Any]
    epoch: int  # completed epochs
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: dict[str, Any]
    rng: dict[str, Any]
    history: list[dict[str, float]]
    early_stopping: dict[str, Any]
    train_seconds: float = 0.0
    examples_seen: int = 0
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def state_path(directory: Path, architecture: str) -> Path:
    return Path(directory) / architecture / STATE_FILE


def clear_state(path: Path) -> None:
    """Remove a finished run's state, and its directories once nothing else is in them."""
    path = Path(path)
    path.unlink(missing_ok=True)
    for directory in (path.parent, path.parent.parent):
        try:
            directory.rmdir()
        except OSError:  # not empty (another architecture's state), or already gone
            break


def save_state(path: Path, state: TrainingState) -> None:
    """Write to a temporary sibling and rename: a kill mid-write keeps the previous epoch."""
    payload = {"format": FORMAT_VERSION, **asdict(state)}
    with atomic_file(path, "wb") as handle:
        torch.save(payload, handle)


def load_state(path: Path, expected: dict[str, Any]) -> TrainingState | None:
    """The checkpoint at `path` if it continues this run; None when there is none.

    A checkpoint of another configuration is not an error (the run starts over and says
    why); one that cannot be read is, since resuming from it silently would be wrong.
    """
    path = Path(path)
    if not path.is_file():
        return None
    payload = safe_load(path, "training checkpoint", "delete it to start the run from scratch")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: not a traindev training checkpoint of format {FORMAT_VERSION}; "
            "delete it to start the run from scratch"
        )
    found = payload.get("fingerprint", {})
    if found.get("sha256") != expected["sha256"]:
        changed = describe_changes(found.get("settings", {}), expected["settings"])
        print(
            f"traindev: not resuming from {path}: it was written by another configuration "
            f"({changed or 'an older checkpoint format'}); training from scratch",
            file=sys.stderr,
        )
        return None
    payload.pop("format")
    try:
        return TrainingState(**payload)
    except TypeError as exc:
        raise CheckpointError(f"{path}: training checkpoint is missing fields ({exc})") from exc


def describe_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> str:
    """`train.lr 0.001 -> 0.01, data.split.manifest_md5 ...`: what differs, by dotted key."""
    changes = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            inner = describe_changes(before, after, f"{prefix}{key}.")
            if inner:
                changes.append(inner)
        elif before != after:
            changes.append(f"{prefix}{key} {before!r} -> {after!r}")
    return ", ".join(changes)
