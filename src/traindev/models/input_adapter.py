"""Resize a batch to the size an architecture is defined at, inside the model.

LeNet-5 is drawn in the notes for 32x32 inputs (course 4, week 2); our data sets may come at
another size. Doing the resize inside the module (not in the data loader) keeps the saved model
self-contained: whoever loads it from MLflow feeds images at the data's own size.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class InputAdapter(nn.Module):
    """Bilinearly resize NCHW input to ``native_input`` and run ``network`` on it.

    The target size is a constant and there is no Python-side branching on the input's shape,
    so ``torch.export`` traces it with a dynamic batch dimension.
    """

    def __init__(self, network: nn.Module, native_input: tuple[int, int]) -> None:
        super().__init__()
        height, width = native_input
        if height < 1 or width < 1:
            raise ValueError(f"native_input must be positive, got {native_input}")
        self.network = network
        self.native_input: tuple[int, int] = (int(height), int(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=self.native_input, mode="bilinear", align_corners=False)
        return self.network(x)

    def extra_repr(self) -> str:
        return f"native_input={self.native_input}"
