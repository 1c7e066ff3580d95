"""Learning-rate decay as the notes write it, plus cosine and warm-up, stepped per step."""

from __future__ import annotations

import math

import pytest
import torch

from traindev.config import ScheduleParams
from traindev.training.schedules import build_scheduler, lr_factor


def factors(schedule: ScheduleParams, epochs: int = 6) -> list[float]:
    factor = lr_factor(schedule, base_lr=0.1, total_epochs=epochs)
    return [factor(float(epoch)) for epoch in range(epochs)]


def test_inverse_time_decay_is_the_notes_formula_with_epoch_num_from_one():
    got = factors(ScheduleParams(name="inverse_time", decay_rate=1.0), 4)
    assert got == pytest.approx([1 / 2, 1 / 3, 1 / 4, 1 / 5])


def test_exponential_decay_is_base_to_the_epoch_num():
    got = factors(ScheduleParams(name="exponential", base=0.95), 3)
    assert got == pytest.approx([0.95, 0.95**2, 0.95**3])


def test_inverse_sqrt_decay_is_k_over_root_epoch_num():
    got = factors(ScheduleParams(name="inverse_sqrt", k=2.0), 3)
    assert got == pytest.approx([2.0, 2.0 / math.sqrt(2), 2.0 / math.sqrt(3)])


def test_step_decay_is_a_discrete_staircase():
    got = factors(ScheduleParams(name="step", step_epochs=2, gamma=0.5), 6)
    assert got == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])


def test_cosine_anneals_from_the_base_to_the_floor():
    factor = lr_factor(ScheduleParams(name="cosine", min_lr=0.01), base_lr=0.1, total_epochs=10)
    assert factor(0.0) == pytest.approx(1.0)
    assert factor(5.0) == pytest.approx(0.55)
    assert factor(10.0) == pytest.approx(0.1)  # min_lr / base_lr


def test_warm_up_ramps_linearly_then_hands_over_to_the_decay():
    factor = lr_factor(
        ScheduleParams(name="constant", warmup_epochs=2.0), base_lr=0.1, total_epochs=5
    )
    assert 0 < factor(0.0) < 0.01
    assert factor(1.0) == pytest.approx(0.5, abs=1e-3)
    assert factor(2.0) == factor(4.5) == 1.0


def test_the_scheduler_moves_the_optimizer_per_step_and_restores_from_its_state():
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    schedule = ScheduleParams(name="step", step_epochs=1, gamma=0.5)
    scheduler = build_scheduler(optimizer, schedule, total_epochs=3, steps_per_epoch=4)
    seen = []
    for _ in range(8):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([0.1] * 4 + [0.05] * 4)

    fresh = torch.optim.SGD([weight], lr=0.1)
    restored = build_scheduler(fresh, schedule, total_epochs=3, steps_per_epoch=4)
    restored.load_state_dict(scheduler.state_dict())
    fresh.load_state_dict(optimizer.state_dict())
    assert fresh.param_groups[0]["lr"] == pytest.approx(0.025)
