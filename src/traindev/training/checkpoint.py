"""Model checkpoints that load without unpickling arbitrary objects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from traindev.models.registry import build_model

CHECKPOINT_FILE = "model.pt"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupted or does not fit its architecture."""


@dataclass(frozen=True)
class Checkpoint:
    architecture: str
    model_params: dict[str, Any]
    input_shape: tuple[int, int, int]
    classes: list[str]
    pixel_max: int
    state_dict: dict[str, torch.Tensor]

    def build(self) -> nn.Module:
        model = build_model(
            self.architecture, self.model_params, self.input_shape, len(self.classes)
        )
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as exc:
            raise CheckpointError(
                f"checkpoint weights do not fit architecture {self.architecture!r}: {exc}"
            ) from exc
        return model


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    payload = {
        "architecture": checkpoint.architecture,
        "model_params": checkpoint.model_params,
        "input_shape": list(checkpoint.input_shape),
        "classes": checkpoint.classes,
        "pixel_max": checkpoint.pixel_max,
        "state_dict": {key: value.detach().cpu() for key, value in checkpoint.state_dict.items()},
    }
    torch.save(payload, path)


def load_checkpoint(path: Path) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; run `dvc repro` to train it")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        return Checkpoint(
            architecture=payload["architecture"],
            model_params=payload["model_params"],
            input_shape=tuple(payload["input_shape"]),
            classes=list(payload["classes"]),
            pixel_max=int(payload["pixel_max"]),
            state_dict=payload["state_dict"],
        )
    except (RuntimeError, KeyError, TypeError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a readable traindev checkpoint ({exc})") from exc
