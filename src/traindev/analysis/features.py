"""The model's own view of an example: the activations its output layer reads.

Both the data-mismatch classifier and the train label check work on these penultimate
features: two examples the network cannot tell apart there, it cannot treat differently.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from traindev.data.batches import make_batches
from traindev.data.store import ImageStore
from traindev.training.trainer import autocast_context
from traindev.training.transfer import output_layer

# Same budget as predict_probabilities: small splits go to the device in one tensor.
IN_MEMORY_MAX_MB = 256.0


@torch.no_grad()
def penultimate_features(
    model: nn.Module,
    store: ImageStore,
    rows: np.ndarray,
    device: torch.device,
    batch_size: int,
) -> np.ndarray:
    """(len(rows), in_features) float32: the input of the output layer, in eval mode.

    A forward pre-hook on the output layer (the last nn.Linear) captures its input; that is
    cheaper than `CachedFeatures`' deep copy and needs no knowledge of the architecture.
    The model is left in eval mode, as `predict_probabilities` leaves it.
    """
    rows = np.asarray(rows, dtype=np.int64)
    _, _, head = output_layer(model)
    if len(rows) == 0:
        return np.zeros((0, head.in_features), dtype=np.float32)
    model = model.to(device).eval()
    captured: list[torch.Tensor] = []

    def capture(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        captured.append(inputs[0].detach().flatten(1).float().cpu())

    handle = head.register_forward_pre_hook(capture)
    try:
        batches = make_batches(
            store, "", batch_size, device, in_memory_max_mb=IN_MEMORY_MAX_MB, rows=rows
        )
        for batch_number, (x, _) in enumerate(batches, start=1):
            with autocast_context(device):
                model(x)
            _check_one_call(captured, batch_number, type(model).__name__)
    finally:
        handle.remove()
    return torch.cat(captured).numpy()


def _check_one_call(captured: list[torch.Tensor], batch_number: int, name: str) -> None:
    """The hook must fire once per forward, else rows and features would no longer align."""
    if len(captured) != batch_number:
        raise RuntimeError(
            f"{name}: its output layer ran {len(captured) - batch_number + 1} times in one "
            "forward pass; penultimate features need a single call per batch"
        )
