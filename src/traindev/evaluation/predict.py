"""Class probabilities for every row of a store, in eval mode."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch import nn

from traindev.data.batches import make_batches
from traindev.data.store import ImageStore
from traindev.training.trainer import autocast_context


def predict_probabilities(
    model: nn.Module,
    store: ImageStore,
    device: torch.device,
    batch_size: int,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """(len(rows), num_classes) softmax probabilities, in the order of `rows` (default: all)."""
    softmax = partial(torch.softmax, dim=1)
    return predict_outputs(model, store, device, batch_size, rows, softmax, len(store.classes))


@torch.no_grad()
def predict_outputs(
    model: nn.Module,
    store: ImageStore,
    device: torch.device,
    batch_size: int,
    rows: np.ndarray | None,
    link: Callable[[torch.Tensor], torch.Tensor],
    empty_width: int,
) -> np.ndarray:
    """`link(logits)` for every row in eval mode, as float32 (softmax, sigmoid, ...).

    `empty_width` is the column count returned when there are no rows at all.
    """
    model = model.to(device).eval()
    rows = np.arange(len(store.manifest)) if rows is None else rows
    batches = make_batches(store, "", batch_size, device, in_memory_max_mb=256.0, rows=rows)
    chunks = []
    for x, _ in batches:
        with autocast_context(device):
            logits = model(x)
        chunks.append(link(logits.float()).cpu())
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, empty_width), np.float32)
