"""Device choice and seeding: the two things that decide whether a run can be repeated."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def select_device(requested: str = "auto", local_rank: int = 0) -> torch.device:
    """CUDA when present, else Apple MPS, else CPU; an explicit request that cannot be met fails.

    Under torchrun each process takes the GPU of its local rank.
    """
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "train.device: 'cuda' was asked for but no CUDA device is visible; use auto"
        )
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ValueError("train.device: 'mps' was asked for but MPS is not available; use auto")
    return torch.device("cuda", local_rank) if requested == "cuda" else torch.device(requested)


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and torch; with `deterministic`, forbid nondeterministic kernels.

    On CPU this makes runs bit-identical. On CUDA it also needs a fixed cuBLAS workspace
    and disables cuDNN autotuning (which otherwise picks kernels by timing).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=False)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type
