"""Mixed precision from `train.precision`: bf16 where the GPU has it, fp16 with loss scaling
where it does not, full precision on CPU unless asked."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Precision:
    device_type: str
    dtype: torch.dtype | None  # None: fp32, no autocast

    def autocast(self) -> AbstractContextManager:
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    @property
    def needs_loss_scaling(self) -> bool:
        """fp16 gradients underflow without it; bf16 has fp32's range and does not."""
        return self.dtype == torch.float16

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device_type, enabled=self.needs_loss_scaling)

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]


def choose_precision(requested: str, device: torch.device) -> Precision:
    kind = device.type
    bf16_ok = kind != "cuda" or torch.cuda.is_bf16_supported()
    match requested:
        case "auto":
            if kind != "cuda":
                return Precision(kind, None)
            return Precision(kind, torch.bfloat16 if bf16_ok else torch.float16)
        case "fp32":
            return Precision(kind, None)
        case "bf16":
            if not bf16_ok:
                raise ValueError(
                    f"train.precision: bf16 is not supported on {torch.cuda.get_device_name()}; "
                    "use auto (fp16 with loss scaling) or fp32"
                )
            return Precision(kind, torch.bfloat16)
        case "fp16":
            return Precision(kind, torch.float16)
    raise ValueError(f"train.precision: unknown precision {requested!r}")
