"""Checks every architecture's tests share: a few optimizer steps must lower the loss."""

from __future__ import annotations

import torch
from torch import nn


def eval_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Cross-entropy in eval mode (dropout off, batch-norm running statistics)."""
    model.eval()
    with torch.no_grad():
        return nn.functional.cross_entropy(model(x), y).item()


def loss_before_and_after_adam(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float
) -> tuple[float, float]:
    """Eval-mode loss on (x, y) before and after `steps` Adam steps on that same batch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    before = eval_loss(model, x, y)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return before, eval_loss(model, x, y)


def assert_exports_with_dynamic_batch(
    model: nn.Module, shape: tuple[int, int, int], batches: tuple[int, ...] = (3,)
) -> torch.export.ExportedProgram:
    """What MLflow does: export with a batch-2 example, then the program must run other
    batch sizes and agree with the eager model."""
    program = torch.export.export(
        model, (torch.rand(2, *shape),), dynamic_shapes={"x": {0: torch.export.Dim("batch")}}
    )
    exported = program.module()
    for batch in batches:
        x = torch.rand(batch, *shape)
        with torch.no_grad():
            expected = model(x)
        got = exported(x)
        assert got.shape == expected.shape == (batch, expected.shape[1])
        torch.testing.assert_close(got, expected)
    return program
