"""Model checkpoints that load without unpickling arbitrary objects.

One format for every task: a classifier's file is unchanged (byte-identical to before the task
seam), a detector's adds one `detection` entry (DetectorLayout) naming the grid S and the
anchors the network was trained with, since its output layout and decoding depend on them and
they come from the training boxes (k-means), not from params alone.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from traindev.models.registry import build_model

if TYPE_CHECKING:
    from traindev.tasks.detection.targets import YoloTargets


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupted or does not fit its architecture."""


@dataclass(frozen=True)
class DetectorLayout:
    """What rebuilds and decodes a detector beyond its params: the grid S and anchors (B, 2) as
    (width, height) in cell units; both None for a detector without a grid (localization,
    sliding windows)."""

    grid: int | None = None
    anchors: list[list[float]] | None = None

    def as_payload(self) -> dict[str, Any]:
        return {"grid": self.grid, "anchors": self.anchors}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> DetectorLayout:
        grid, anchors = payload.get("grid"), payload.get("anchors")
        return cls(
            None if grid is None else int(grid),
            None if anchors is None else [[float(w), float(h)] for w, h in anchors],
        )


@dataclass(frozen=True)
class Checkpoint:
    architecture: str
    model_params: dict[str, Any]
    input_shape: tuple[int, int, int]
    classes: list[str]
    pixel_max: int
    state_dict: dict[str, torch.Tensor]
    # Multi-label models: one sigmoid output per label, in this order; empty for a softmax.
    binary_labels: list[str] = field(default_factory=list)
    # Detectors only (task: detection): `architecture` is then a detector registry name.
    detection: DetectorLayout | None = None

    @property
    def outputs(self) -> int:
        return len(self.binary_labels) if self.binary_labels else len(self.classes)

    def build(self) -> nn.Module:
        """The trained network: a classifier, or a detector with its grid and anchor count."""
        if self.detection is None:
            model = build_model(
                self.architecture, self.model_params, self.input_shape, self.outputs
            )
        else:
            model = self._build_detector(self.detection)
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as exc:
            raise CheckpointError(
                f"checkpoint weights do not fit architecture {self.architecture!r}: {exc}"
            ) from exc
        return model

    def _build_detector(self, layout: DetectorLayout) -> nn.Module:
        from traindev.tasks.detection.models.registry import build_detector

        anchors = None if layout.anchors is None else len(layout.anchors)
        return build_detector(
            self.architecture,
            self.model_params,
            self.input_shape,
            len(self.classes),
            grid=layout.grid,
            num_anchors=anchors,
        )

    def yolo_targets(self) -> YoloTargets:
        """The encoding the detector was trained with, for decoding its raw output."""
        from traindev.tasks.detection.targets import YoloTargets

        layout = self.detection
        if layout is None or layout.grid is None or layout.anchors is None:
            raise CheckpointError(f"{self.architecture!r} is not a grid (YOLO) detector")
        anchors = torch.tensor(layout.anchors, dtype=torch.float32)
        image_size = (int(self.input_shape[1]), int(self.input_shape[2]))
        return YoloTargets(image_size, layout.grid, anchors, len(self.classes))


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    payload = {
        "architecture": checkpoint.architecture,
        "model_params": checkpoint.model_params,
        "input_shape": list(checkpoint.input_shape),
        "classes": checkpoint.classes,
        "pixel_max": checkpoint.pixel_max,
        # the file keeps train.multilabel's old key: checkpoints stay byte-identical, old ones load
        "tasks": list(checkpoint.binary_labels),
        "state_dict": {key: value.detach().cpu() for key, value in checkpoint.state_dict.items()},
    }
    if checkpoint.detection is not None:  # absent for a classifier: its file stays as it was
        payload["detection"] = checkpoint.detection.as_payload()
    torch.save(payload, path)


def safe_load(path: Path, what: str, remedy: str) -> Any:
    """torch.load with `weights_only=True`; any failure names the file and the fix.

    weights_only refuses everything but tensors and plain containers, so a tampered or
    foreign file can never run code; its own message suggests turning that off, which
    is the one thing not to do, so it is replaced.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = "it holds objects other than tensors and plain values, or is not a checkpoint"
        raise CheckpointError(f"{path}: cannot read this {what}: {reason}; {remedy}") from exc
    except Exception as exc:  # truncated files raise RuntimeError, EOFError, ...
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise CheckpointError(
            f"{path}: cannot read this {what} ({type(exc).__name__}: {detail}); {remedy}"
        ) from exc


def load_checkpoint(path: Path) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; run `dvc repro` to train it")
    payload = safe_load(path, "model checkpoint", "re-run `dvc repro` to train it again")
    try:
        return Checkpoint(
            architecture=payload["architecture"],
            model_params=payload["model_params"],
            input_shape=tuple(payload["input_shape"]),
            classes=list(payload["classes"]),
            pixel_max=int(payload["pixel_max"]),
            state_dict=payload["state_dict"],
            binary_labels=list(payload.get("tasks", [])),
            detection=(
                DetectorLayout.from_payload(payload["detection"])
                if "detection" in payload
                else None
            ),
        )
    except (RuntimeError, KeyError, TypeError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a readable traindev checkpoint ({exc})") from exc
