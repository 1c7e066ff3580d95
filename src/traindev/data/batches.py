"""Mini-batches of one split, on the training device.

Two sources with one interface (iterate -> (x float NCHW in [0, 1], y int64)):
- `TensorBatches`: the split fits comfortably in memory, so it lives on the device
  as one tensor and a batch is a slice; no per-batch host work at all.
- `StoreBatches`: the split streams from the memory-mapped pixel store through a
  DataLoader whose dataset returns whole batches (one fancy-index read per batch),
  with worker processes and pinned memory where asked.
The trainer picks between them by size (`train.in_memory_max_mb`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from traindev.data.store import ImageStore

Batch = tuple[torch.Tensor, torch.Tensor]


class BatchSource(Protocol):
    def __iter__(self) -> Iterator[Batch]: ...
    def __len__(self) -> int: ...  # number of examples

    @property
    def num_batches(self) -> int: ...


def split_rows(store: ImageStore, split: str) -> np.ndarray:
    """Row indices of `split` in the store (contiguous after the split stage, but not assumed)."""
    return np.flatnonzero(store.manifest["split"].to_numpy() == split)


def sample_rows(rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A seeded sample of at most `size` of `rows`, sorted so reads stay sequential."""
    return np.sort(np.random.default_rng(seed).permutation(rows)[:size])


def to_model_input(pixels: torch.Tensor, pixel_max: int) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW in [0, 1], done on whatever device `pixels` is on."""
    return pixels.permute(0, 3, 1, 2).float().div_(pixel_max)


class TensorBatches:
    """A split held on the device; shuffled per epoch from a seeded generator."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
    ) -> None:
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(seed)

    @classmethod
    def from_store(
        cls,
        store: ImageStore,
        rows: np.ndarray,
        batch_size: int,
        device: torch.device,
        shuffle: bool = False,
        seed: int = 0,
    ) -> TensorBatches:
        pixels = torch.from_numpy(np.ascontiguousarray(store.pixels[rows]))
        x = to_model_input(pixels, store.pixel_max).to(device)
        y = torch.from_numpy(store.label_indices(rows)).to(device)
        return cls(x, y, batch_size, shuffle, seed)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_batches(self) -> int:
        return -(-len(self) // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        n = len(self)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.x.device)
            for start in range(0, n, self.batch_size):
                index = order[start : start + self.batch_size]
                yield self.x[index], self.y[index]
        else:
            for start in range(0, n, self.batch_size):
                yield (
                    self.x[start : start + self.batch_size],
                    self.y[start : start + self.batch_size],
                )


class _StoreBatchDataset(Dataset):
    """Indexing with a list of positions returns a whole batch from the memmap."""

    def __init__(self, store: ImageStore, rows: np.ndarray) -> None:
        self.pixels = store.pixels
        self.rows = rows
        self.labels = store.label_indices(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, positions: list[int]) -> Batch:
        positions = np.sort(np.asarray(positions))  # sorted reads are sequential on disk
        batch = np.ascontiguousarray(self.pixels[self.rows[positions]])
        return torch.from_numpy(batch), torch.from_numpy(self.labels[positions])


class StoreBatches:
    """A split streamed from the memory-mapped store, for splits too large for the device."""

    def __init__(
        self,
        store: ImageStore,
        rows: np.ndarray,
        batch_size: int,
        device: torch.device,
        shuffle: bool = False,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        self.dataset = _StoreBatchDataset(store, rows)
        self.pixel_max = store.pixel_max
        self.device = device
        self.batch_size = batch_size
        generator = torch.Generator().manual_seed(seed)
        sampler = (
            RandomSampler(self.dataset, generator=generator)
            if shuffle
            else SequentialSampler(self.dataset)
        )
        self.loader = DataLoader(
            self.dataset,
            sampler=BatchSampler(sampler, batch_size, drop_last=False),
            batch_size=None,
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
            persistent_workers=num_workers > 0,
        )

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def num_batches(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Batch]:
        non_blocking = self.device.type == "cuda"
        for pixels, labels in self.loader:
            x = to_model_input(pixels.to(self.device, non_blocking=non_blocking), self.pixel_max)
            yield x, labels.to(self.device, non_blocking=non_blocking)


def make_batches(
    store: ImageStore,
    split: str,
    batch_size: int,
    device: torch.device,
    in_memory_max_mb: float,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
    rows: np.ndarray | None = None,
) -> TensorBatches | StoreBatches:
    """Batches of `split` (or of the given rows), held in memory when small enough."""
    rows = split_rows(store, split) if rows is None else rows
    float_bytes = len(rows) * int(np.prod(store.pixels.shape[1:])) * 4
    if float_bytes <= in_memory_max_mb * 1e6:
        return TensorBatches.from_store(store, rows, batch_size, device, shuffle, seed)
    return StoreBatches(store, rows, batch_size, device, shuffle, seed, num_workers)
