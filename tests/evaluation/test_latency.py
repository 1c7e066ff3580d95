"""Batch-1 latency: warm-up, many repeats, a low quantile, one thread, the caller's threads back."""

from __future__ import annotations

import pytest
import torch

from traindev.evaluation import latency as latency_module
from traindev.evaluation.latency import measure_latency


def test_latency_is_a_low_quantile_of_many_timed_passes_on_one_thread(monkeypatch) -> None:
    seen_threads: list[int] = []

    class Probe(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen_threads.append(torch.get_num_threads())
            return x.sum(dim=1)

    before = torch.get_num_threads()
    # Each pass "takes" 1, 2, ..., 100 ms in turn, then again from 1 ms.
    ticks = iter(range(10_000))

    def fake_forward(model, example, device) -> float:
        model(example)
        return (next(ticks) % 100 + 1) / 1000.0

    monkeypatch.setattr(latency_module, "_forward", fake_forward)
    measured = measure_latency(Probe(), torch.zeros(4, 3), torch.device("cpu"), repeats=100)
    assert measured.repeats == 100 and measured.warmup == 20 and measured.threads == 1
    assert set(seen_threads) == {1} and len(seen_threads) == 120
    assert torch.get_num_threads() == before
    # the warm-up took ticks 0..19; the timed passes took 21..100 ms then 1..20 ms, i.e. each
    # of 1..100 ms once, whose 10th percentile (linear interpolation) is 10.9 ms
    assert measured.latency_ms == pytest.approx(10.9)
    # and the spread the same timings show (what the load at the time did to them)
    assert measured.median_ms == pytest.approx(50.5)
    assert measured.p90_ms == pytest.approx(90.1)
    assert measured.max_ms == pytest.approx(100.0)


def test_a_slow_model_stops_after_the_time_budget(monkeypatch) -> None:
    monkeypatch.setattr(latency_module, "BUDGET_SECONDS", 0.0)
    measured = measure_latency(torch.nn.Linear(3, 2), torch.zeros(1, 3), torch.device("cpu"))
    assert measured.repeats == latency_module.MIN_REPEATS
    assert measured.latency_ms > 0
