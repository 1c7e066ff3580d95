"""What a YOLO model is trained against: one batch's boxes turned into (N, S, S, B, 5 + C).

Why a module of its own: the batch path (augmented boxes, encoded per batch), the objective
(decoding outputs and targets for the per-epoch error) and prediction all need the same grid,
anchors and image size; `YoloTargets` is that one record, built once from the training boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from traindev.tasks.detection.encoding import anchors_from_boxes, encode

BoxesAndClasses = tuple[np.ndarray | Tensor, np.ndarray | Tensor]  # (K, 4) xyxy, (K,) class ids


@dataclass(frozen=True)
class YoloTargets:
    """The encoding every YOLO stage shares: image (height, width), grid S, anchors (B, 2) as
    (width, height) in cell units, and the class count C."""

    image_size: tuple[int, int]
    grid: int
    anchors: Tensor
    num_classes: int

    @classmethod
    def from_training_boxes(
        cls,
        targets: Sequence[BoxesAndClasses],
        image_size: tuple[int, int],
        grid: int,
        num_classes: int,
        anchors: Sequence[Sequence[float]] | int,
        seed: int = 0,
    ) -> YoloTargets:
        """`anchors` given as (width, height) pairs in cell units (params), or as a count B:
        then the shapes come from k-means with IoU distance on the training boxes (the notes)."""
        if isinstance(anchors, int):
            boxes = [torch.as_tensor(np.asarray(b, dtype=np.float32)) for b, _ in targets]
            every = torch.cat(boxes) if boxes else torch.zeros(0, 4)
            if len(every) < anchors:
                raise ValueError(f"{len(every)} training boxes cannot give {anchors} anchors")
            shapes = anchors_from_boxes(every, image_size, grid, anchors, seed)
        else:
            shapes = torch.as_tensor(anchors, dtype=torch.float32)
            if shapes.ndim != 2 or shapes.shape[1] != 2 or (shapes <= 0).any():
                raise ValueError(f"anchors must be positive (width, height) pairs, got {anchors}")
        return cls((int(image_size[0]), int(image_size[1])), int(grid), shapes, int(num_classes))

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(S, S, B, 5 + C): one image's target."""
        return (self.grid, self.grid, len(self.anchors), 5 + self.num_classes)

    def encode_batch(self, targets: Sequence[BoxesAndClasses], device: torch.device) -> Tensor:
        """The stacked targets (N, S, S, B, 5 + C) of N images' boxes and classes."""
        out = torch.zeros(len(targets), *self.shape, device=device)
        for n, (boxes, classes) in enumerate(targets):
            if len(boxes):
                out[n] = encode(
                    torch.as_tensor(boxes, device=device),
                    torch.as_tensor(classes, device=device),
                    self.image_size,
                    self.grid,
                    self.anchors.to(device),
                    self.num_classes,
                )
        return out
