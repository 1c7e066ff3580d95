"""Data parallelism under `torchrun`: who this process is, and the few collectives we need.

Without torchrun's environment (WORLD_SIZE unset or 1) everything here is a no-op, so the
same training command runs on one process or many.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from traindev.data.batches import Shard


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs to MLflow and writes checkpoints and outputs."""
        return self.rank == 0

    @property
    def shard(self) -> Shard:
        return Shard(self.rank, self.world)

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """The sum over all processes (in place, returned for chaining)."""
        if self.world > 1:
            dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def launched_world() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device_type: str) -> DistributedContext:
    """Join the process group torchrun set up: NCCL between GPUs, Gloo on CPU."""
    world = launched_world()
    if world == 1:
        return DistributedContext()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return DistributedContext(rank, world, local_rank)
