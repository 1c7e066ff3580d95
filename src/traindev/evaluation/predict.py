"""Class probabilities for every row of a store, in eval mode."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from traindev.data.batches import make_batches
from traindev.data.store import ImageStore
from traindev.training.trainer import autocast_context


@torch.no_grad()
def predict_probabilities(
    model: nn.Module, store: ImageStore, device: torch.device, batch_size: int
) -> np.ndarray:
    """(N, num_classes) softmax probabilities, row i for manifest row i."""
    model = model.to(device).eval()
    rows = np.arange(len(store.manifest))
    batches = make_batches(store, "", batch_size, device, in_memory_max_mb=256.0, rows=rows)
    chunks = []
    for x, _ in batches:
        with autocast_context(device):
            logits = model(x)
        chunks.append(torch.softmax(logits.float(), dim=1).cpu())
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, len(store.classes)), np.float32)
