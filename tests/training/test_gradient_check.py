"""The notes' gradient checking: a correct backprop passes, a broken backward is caught."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from traindev.models.registry import build_model
from traindev.training.gradient_check import (
    GradientCheckResult,
    format_report,
    gradient_check,
    relative_difference,
)

SHAPE = (1, 4, 4)
DEEP = {
    "hidden_sizes": [8, 6],
    "activation": "tanh",
    "init": "xavier",
    "batch_norm": False,
    "dropout": 0.0,
}
# 16*8 + 8 + 8*6 + 6 + 6*3 + 3
DEEP_PARAMETERS = 211


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _DoubleGradient(torch.autograd.Function):
    """Identity forward, 2x the gradient backward: a deliberately wrong hand-written backprop."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        return 2 * grad


class _BrokenLayer(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _DoubleGradient.apply(x)


def _batch(size: int = 8, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(size, *SHAPE, generator=gen), torch.randint(
        0, classes, (size,), generator=gen
    )


def _deep(**overrides: object) -> nn.Module:
    torch.manual_seed(0)
    return build_model("deep_nn", {**DEEP, **overrides}, SHAPE, 3)


def test_correct_backprop_passes() -> None:
    model = _deep()
    result = gradient_check(model, *_batch())
    assert result.checked == DEEP_PARAMETERS
    assert result.relative_difference < 1e-7
    assert result.verdict == "ok"
    # the caller's model is untouched: still float32 and in training mode
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.training


def test_broken_backward_is_caught() -> None:
    model = _deep()
    model.hidden.insert(1, _BrokenLayer())  # between the first LINEAR and its tanh
    result = gradient_check(model, *_batch())
    assert result.relative_difference > 1e-3
    assert result.verdict == "bug"
    # only the first layer's gradients are doubled: that is where the disagreements are
    assert all(name.startswith("hidden.0.") for name, *_ in result.worst)
    *_, backprop, numeric = result.worst[0]
    assert backprop == pytest.approx(2 * numeric, rel=1e-4)
    assert "bug" in format_report(result)


def test_logistic_regression_passes() -> None:
    model = build_model("logistic_regression", {}, SHAPE, 3)  # zeros: gradients still nonzero
    result = gradient_check(model, *_batch())
    assert result.checked == 16 * 3 + 3
    assert result.verdict == "ok"


def test_dropout_and_batch_norm_are_checked_in_eval_mode() -> None:
    """With dropout J is not well defined (the notes): the check switches it off."""
    model = _deep(dropout=0.5, batch_norm=True)
    assert gradient_check(model, *_batch()).verdict == "ok"


def test_random_subset_is_seeded() -> None:
    model = _deep()
    first = gradient_check(model, *_batch(), max_parameters=20, seed=1)
    again = gradient_check(model, *_batch(), max_parameters=20, seed=1)
    assert first.checked == 20
    assert first == again
    assert first.verdict == "ok"
    with pytest.raises(ValueError):
        gradient_check(model, *_batch(), max_parameters=0)


@pytest.mark.parametrize(
    ("difference", "verdict"),
    [(0.0, "ok"), (2e-8, "ok"), (1e-7, "check"), (1e-5, "check"), (1e-3, "bug"), (0.3, "bug")],
)
def test_verdict_uses_the_notes_thresholds(difference: float, verdict: str) -> None:
    assert GradientCheckResult(difference, 1).verdict == verdict


def test_relative_difference_formula() -> None:
    assert relative_difference(np.zeros(3), np.zeros(3)) == 0.0
    approx, grad = np.array([3.0, 4.0]), np.array([3.0, 0.0])
    assert relative_difference(approx, grad) == pytest.approx(4.0 / (5.0 + 3.0))


def test_format_report_is_readable() -> None:
    result = GradientCheckResult(2.5e-9, 7, [("output.weight", (1, 2), 0.125, 0.1250001)])
    report = format_report(result)
    assert report.splitlines()[0].endswith("-> ok")
    assert "2.500e-09" in report and "7 parameter elements" in report
    assert "output.weight[1, 2]" in report
