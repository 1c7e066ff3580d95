"""The notes' gradient checking (course 2, week 1) as a debugging utility.

Backprop's dθ is compared with the two-sided numerical estimate

    dθ_approx[i] = (J(θ_1, ..., θ_i + ε, ...) - J(θ_1, ..., θ_i - ε, ...)) / 2ε

whose error is O(ε²) (the one-sided estimate's is O(ε)), through the relative difference

    ||dθ_approx - dθ||₂ / (||dθ_approx||₂ + ||dθ||₂).

As the notes say, this is for debugging only (one extra pair of forward passes per parameter
element), never during training; run it just after initialization and perhaps again after some
training. Torch's autograd is already tested, so a failure points at a hand-written backward
(a custom ``autograd.Function``) or a loss that is not the function really being optimized.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Disagreement = tuple[str, tuple[int, ...], float, float]  # (parameter, index, backprop, numeric)

# The notes' reading of the relative difference (ε = 1e-7): ~1e-7 "great", ~1e-5 "might be OK,
# take a careful look", ~1e-3 "worry: there is likely a bug".
GREAT_BELOW = 1e-7
BUG_FROM = 1e-3
WORST_REPORTED = 5


@dataclass(frozen=True)
class GradientCheckResult:
    """Outcome of one check: the notes' relative difference over ``checked`` elements, and the
    ``worst`` elements by |backprop - numeric| as (parameter name, index, backprop, numeric)."""

    relative_difference: float
    checked: int
    worst: list[Disagreement] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """The notes' thresholds: "ok" below 1e-7 (great); "check" from 1e-7 up to 1e-3 (the
        notes' ~1e-5 "might be OK, look closer" zone); "bug" from 1e-3 (likely a bug)."""
        if self.relative_difference < GREAT_BELOW:
            return "ok"
        if self.relative_difference < BUG_FROM:
            return "check"
        return "bug"


def relative_difference(approx: np.ndarray, backprop: np.ndarray) -> float:
    """||approx - backprop||₂ / (||approx||₂ + ||backprop||₂); 0 when both are zero."""
    denominator = float(np.linalg.norm(approx) + np.linalg.norm(backprop))
    if denominator == 0.0:
        return 0.0
    return float(np.linalg.norm(approx - backprop)) / denominator


def _to_float64(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to(torch.float64) if tensor.is_floating_point() else tensor


def _prepare(model: nn.Module) -> nn.Module:
    """A float64 copy in eval mode: the caller's model is left untouched.

    Float64 so that rounding in J (~1e-16 relative) stays far below ε = 1e-7. Eval mode because
    with dropout J is not well defined (the notes: check with keep_prob = 1); batch norm then
    uses its running statistics, so this checks the inference-mode function, where each
    example's loss does not depend on the rest of the batch.
    """
    model = copy.deepcopy(model).to(torch.float64).eval()
    with torch.no_grad():
        for param in model.parameters():
            if not param.is_contiguous():  # perturbed element by element through a flat view
                param.data = param.data.contiguous()
    return model


def _backprop(
    model: nn.Module,
    params: list[nn.Parameter],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: LossFn,
) -> list[torch.Tensor]:
    loss = loss_fn(model(inputs), targets)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [
        torch.zeros_like(p) if g is None else g.detach() for p, g in zip(params, grads, strict=True)
    ]


def _select(total: int, max_parameters: int | None, seed: int) -> np.ndarray:
    """All global element indices, or a sorted seeded random subset of ``max_parameters``."""
    if max_parameters is None or max_parameters >= total:
        return np.arange(total)
    if max_parameters < 1:
        raise ValueError(f"max_parameters must be >= 1 or None, got {max_parameters}")
    return np.sort(np.random.default_rng(seed).choice(total, size=max_parameters, replace=False))


def _numeric(loss: Callable[[], float], flat: torch.Tensor, index: int, epsilon: float) -> float:
    """(J(θ_i + ε) - J(θ_i - ε)) / 2ε for one element, restoring θ_i exactly afterwards."""
    original = flat[index].item()
    flat[index] = original + epsilon
    plus = loss()
    flat[index] = original - epsilon
    minus = loss()
    flat[index] = original
    return (plus - minus) / (2.0 * epsilon)


def gradient_check(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: LossFn = F.cross_entropy,
    epsilon: float = 1e-7,
    max_parameters: int | None = None,
    seed: int = 0,
) -> GradientCheckResult:
    """Compare backprop with two-sided numerical gradients for every trainable element (or a
    seeded random subset of ``max_parameters`` of them, for big models).

    ``loss_fn(logits, targets)`` must be the cost actually optimized: include any regularization
    term in it, as the notes warn. The model is copied (float64, eval mode) and not modified.
    """
    if epsilon <= 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    model = _prepare(model)
    inputs, targets = _to_float64(inputs), _to_float64(targets)
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("the model has no trainable parameters to check")
    names, params = [n for n, _ in named], [p for _, p in named]
    grads = _backprop(model, params, inputs, targets, loss_fn)

    offsets = np.cumsum([0] + [p.numel() for p in params])
    chosen = _select(int(offsets[-1]), max_parameters, seed)

    def loss() -> float:
        return float(loss_fn(model(inputs), targets))

    backprop = np.empty(len(chosen))
    numeric = np.empty(len(chosen))
    with torch.no_grad():
        for k, global_index in enumerate(chosen):
            which = int(np.searchsorted(offsets, global_index, side="right")) - 1
            local = int(global_index - offsets[which])
            flat = params[which].view(-1)
            backprop[k] = grads[which].reshape(-1)[local].item()
            numeric[k] = _numeric(loss, flat, local, epsilon)

    worst = _worst(names, params, offsets, chosen, backprop, numeric)
    return GradientCheckResult(relative_difference(numeric, backprop), len(chosen), worst)


def _worst(
    names: list[str],
    params: list[nn.Parameter],
    offsets: np.ndarray,
    chosen: np.ndarray,
    backprop: np.ndarray,
    numeric: np.ndarray,
) -> list[Disagreement]:
    """The WORST_REPORTED elements with the largest |backprop - numeric|, largest first."""
    order = np.argsort(-np.abs(backprop - numeric), kind="stable")[:WORST_REPORTED]
    worst: list[Disagreement] = []
    for k in order:
        which = int(np.searchsorted(offsets, chosen[k], side="right")) - 1
        local = int(chosen[k] - offsets[which])
        index = tuple(int(i) for i in np.unravel_index(local, tuple(params[which].shape)))
        worst.append((names[which], index, float(backprop[k]), float(numeric[k])))
    return worst


def format_report(result: GradientCheckResult) -> str:
    """A readable multi-line summary: the difference, the verdict, the largest disagreements."""
    lines = [
        f"gradient check: relative difference {result.relative_difference:.3e} "
        f"over {result.checked} parameter elements -> {result.verdict}",
        f"  (the notes: ~{GREAT_BELOW:.0e} great, ~1e-05 look closer, "
        f">= {BUG_FROM:.0e} likely a bug)",
    ]
    if result.worst:
        lines.append("  largest disagreements (backprop vs numeric):")
    for name, index, backprop, numeric in result.worst:
        where = f"{name}[{', '.join(map(str, index))}]"
        gap = abs(backprop - numeric)
        lines.append(f"    {where}: {backprop:+.6e} vs {numeric:+.6e} (|diff| {gap:.2e})")
    return "\n".join(lines)


__all__ = [
    "BUG_FROM",
    "GREAT_BELOW",
    "GradientCheckResult",
    "format_report",
    "gradient_check",
    "relative_difference",
]
