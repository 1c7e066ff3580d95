"""Class probabilities for every row of a store, in eval mode."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from traindev.data.batches import make_batches
from traindev.data.store import ImageStore
from traindev.training.trainer import autocast_context


@torch.no_grad()
def predict_probabilities(
    model: nn.Module,
    store: ImageStore,
    device: torch.device,
    batch_size: int,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """(len(rows), num_classes) softmax probabilities, in the order of `rows` (default: all)."""
    model = model.to(device).eval()
    rows = np.arange(len(store.manifest)) if rows is None else rows
    batches = make_batches(store, "", batch_size, device, in_memory_max_mb=256.0, rows=rows)
    chunks = []
    for x, _ in batches:
        with autocast_context(device):
            logits = model(x)
        chunks.append(torch.softmax(logits.float(), dim=1).cpu())
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, len(store.classes)), np.float32)


@torch.no_grad()
def latency_ms(
    model: nn.Module, example: torch.Tensor, device: torch.device, repeats: int = 50
) -> float:
    """Median wall time of one forward pass on a single example (batch 1), in milliseconds.

    Batch 1 is what an interactive user of the model waits for; the median ignores the
    first-call warm-up and scheduler noise.
    """
    model = model.to(device).eval()
    example = example[:1].to(device)
    timings = []
    for _ in range(repeats + 5):
        started = time.perf_counter()
        model(example)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        timings.append(time.perf_counter() - started)
    return float(np.median(timings[5:]) * 1000.0)
