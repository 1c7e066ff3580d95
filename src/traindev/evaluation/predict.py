"""Class probabilities for every row of a store, in eval mode."""

from __future__ import annotations

import time
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
