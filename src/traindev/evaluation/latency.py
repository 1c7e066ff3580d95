"""Batch-1 inference latency, measured so that a busy machine disturbs it as little as it can.

One batch-1 forward pass of a small model takes microseconds to a millisecond; on 2 shared
cores a single figure measured beside other work varied from 0.22 ms idle to 48 ms loaded.
So: one intra-op thread (a second one mostly waits for a busy core), a warm-up, many timed
repeats, and a low quantile rather than the median or the mean, because interference only
ever adds time. The figure is still a property of the machine at that moment: `traindev
evaluate` logs it, with its spread (median, p90, max), to MLflow and to its run record
(records.runs), never to a DVC-hashed output, and selection reads it from there; the tracked
selection record leaves latency thresholds to the run record (stages.select).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from traindev.records.runs import Latency

REPEATS = 200
WARMUP = 20
QUANTILE = 0.1
THREADS = 1
BUDGET_SECONDS = 5.0  # a large model stops early, after at least MIN_REPEATS timed passes
MIN_REPEATS = 20


@torch.no_grad()
def measure_latency(
    model: nn.Module,
    example: torch.Tensor,
    device: torch.device,
    repeats: int = REPEATS,
    warmup: int = WARMUP,
    quantile: float = QUANTILE,
    threads: int = THREADS,
) -> Latency:
    """The `quantile` of `repeats` timed forward passes on one example, in milliseconds."""
    model = model.to(device).eval()
    example = example[:1].to(device)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for _ in range(warmup):
            _forward(model, example, device)
        timings: list[float] = []
        deadline = time.perf_counter() + BUDGET_SECONDS
        while len(timings) < repeats:
            timings.append(_forward(model, example, device))
            if len(timings) >= MIN_REPEATS and time.perf_counter() > deadline:
                break
    finally:
        torch.set_num_threads(before)
    milliseconds = np.asarray(timings) * 1000.0
    return Latency(
        latency_ms=float(np.quantile(milliseconds, quantile)),
        quantile=quantile,
        median_ms=float(np.median(milliseconds)),
        p90_ms=float(np.quantile(milliseconds, 0.9)),
        max_ms=float(milliseconds.max()),
        repeats=len(timings),
        warmup=warmup,
        threads=threads,
        device=str(device),
    )


def latency_ms(
    model: nn.Module, example: torch.Tensor, device: torch.device, repeats: int = REPEATS
) -> float:
    """measure_latency's figure alone, in milliseconds."""
    return measure_latency(model, example, device, repeats=repeats).latency_ms


def _forward(model: nn.Module, example: torch.Tensor, device: torch.device) -> float:
    started = time.perf_counter()
    model(example)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started
