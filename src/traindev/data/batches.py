"""Mini-batches of one split, on the training device.

Two sources with one interface (iterate -> (x float NCHW in [0, 1], y int64)):
- `TensorBatches`: the split fits comfortably in memory, so it lives on the device
  as one tensor and a batch is a slice; no per-batch host work at all.
- `StoreBatches`: the split streams from the memory-mapped pixel store through a
  DataLoader whose dataset returns whole batches (one fancy-index read per batch),
  with worker processes and pinned memory where asked.
The trainer picks between them by size (`train.in_memory_max_mb`). Augmentation of the
training split (`train.augment`) runs where its backend wants it: the batched backend
(`BatchAugmenter`) on the device after a batch is gathered (in memory: a chunk of whole
batches at a time, so torch's per-op overhead is paid per chunk), albumentations per image in
worker processes, so a split it augments always streams through at least one worker.

Both draw their batches from `GlobalBatchSampler`, which is also the distributed sampler:
every process builds the same seeded permutation for the epoch and takes its share of each
*global* batch, so under torchrun the union of the processes' batches at a step is exactly
the single-process batch (torch's DistributedSampler shards the epoch instead, which
changes what a step sees when the world size changes).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from traindev.data.batch_augmentation import BatchAugmenter, chunk_rows
from traindev.data.store import ImageStore
from traindev.machine import usable_cores

Batch = tuple[torch.Tensor, torch.Tensor]


class Augment(Protocol):
    """uint8 (N, H, W, C) images of store `rows` in an epoch -> float32 (N, H, W, C) in [0, 1]."""

    def __call__(self, pixels: np.ndarray, rows: np.ndarray, epoch: int) -> np.ndarray: ...


@dataclass(frozen=True)
class Shard:
    """This process's place among `world` data-parallel processes."""

    rank: int = 0
    world: int = 1


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


class GlobalBatchSampler(Sampler[np.ndarray]):
    """Positions of each batch, this shard's part of the global batch, reshuffled per epoch.

    The permutation is a function of (seed, epoch) alone, so a resumed run, or a run on
    another number of processes, sees the same global batches in the same order. A last
    batch too small for batch norm on every process (under 2 examples each) is merged into
    the one before it, so no example is dropped and no step sees a single example.
    """

    def __init__(
        self, size: int, batch_size: int, shuffle: bool, seed: int, shard: Shard = Shard()
    ) -> None:
        if shard.world > 1 and batch_size < shard.world:
            raise ValueError(
                f"train.batch_size {batch_size} is below the {shard.world} processes; "
                "it is the global batch, split across processes"
            )
        self.size, self.batch_size = size, batch_size
        self.shuffle, self.seed, self.shard = shuffle, seed, shard
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def global_batches(self) -> list[np.ndarray]:
        order = (
            np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
            if self.shuffle
            else np.arange(self.size)
        )
        batches = [order[i : i + self.batch_size] for i in range(0, self.size, self.batch_size)]
        smallest = 2 * self.shard.world  # every process needs 2 examples (batch norm's variance)
        if len(batches) > 1 and len(batches[-1]) < min(smallest, self.batch_size):
            # A remainder that small joins the batch before it rather than being dropped.
            last = batches.pop()
            batches[-1] = np.concatenate([batches[-1], last])
        return batches

    def global_sizes(self) -> list[int]:
        return [len(batch) for batch in self.global_batches()]

    def __iter__(self) -> Iterator[np.ndarray]:
        for batch in self.global_batches():
            yield batch[self.shard.rank :: self.shard.world]

    def __len__(self) -> int:
        return len(self.global_batches())


class TensorBatches:
    """A split held on the device; a batch is an index into it.

    With `augment` (the batched backend, needing each example's store row in `rows`), the
    epoch's batches are augmented on the device a chunk of consecutive batches at a time.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        shard: Shard = Shard(),
        augment: BatchAugmenter | None = None,
        rows: np.ndarray | None = None,
    ) -> None:
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.sampler = GlobalBatchSampler(len(y), batch_size, shuffle, seed, shard)
        self.augment = augment
        if augment is not None and rows is None:
            raise ValueError("augmented TensorBatches need the examples' store rows")
        self.rows = None if rows is None else torch.as_tensor(rows, dtype=torch.int64)
        if self.rows is not None:
            self.rows = self.rows.to(x.device)
        self.chunk = chunk_rows(batch_size, tuple(x.shape[1:]))

    @classmethod
    def from_store(
        cls,
        store: ImageStore,
        rows: np.ndarray,
        batch_size: int,
        device: torch.device,
        shuffle: bool = False,
        seed: int = 0,
        targets: np.ndarray | None = None,
        shard: Shard = Shard(),
        augment: BatchAugmenter | None = None,
    ) -> TensorBatches:
        pixels = torch.from_numpy(np.ascontiguousarray(store.pixels[rows]))
        x = to_model_input(pixels, store.pixel_max).to(device)
        labels = store.label_indices(rows) if targets is None else targets
        y = torch.from_numpy(np.ascontiguousarray(labels)).to(device)
        return cls(
            x, y, batch_size, shuffle, seed, shard, augment, None if augment is None else rows
        )

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_batches(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[Batch]:
        plain = self.augment is None
        if plain and not self.sampler.shuffle and self.sampler.shard.world == 1:
            for start in range(0, len(self), self.batch_size):  # slices: no gather at all
                yield (
                    self.x[start : start + self.batch_size],
                    self.y[start : start + self.batch_size],
                )
            return
        parts = list(self.sampler)
        if not parts:
            return
        # One host-to-device copy of the epoch's order: a copy per batch would block on CUDA
        # until the GPU drained, so the next step could not be queued ahead.
        flat = torch.from_numpy(np.concatenate(parts)).to(self.x.device)
        sizes = [len(part) for part in parts]
        if plain:
            for index in torch.split(flat, sizes):
                yield self.x[index], self.y[index]
            return
        yield from self._augmented(flat, sizes)

    def _augmented(self, flat: torch.Tensor, sizes: list[int]) -> Iterator[Batch]:
        """Consecutive batches gathered into chunks of at least `self.chunk` examples, each
        augmented in one call, then split back into the batches."""
        epoch, start = self.sampler.epoch, 0
        for group in chunk_groups(sizes, self.chunk):
            index = flat[start : start + sum(group)]
            x = self.augment(self.x[index], self.rows[index], epoch)
            yield from zip(torch.split(x, group), torch.split(self.y[index], group), strict=True)
            start += sum(group)


def chunk_groups(sizes: list[int], chunk: int) -> list[list[int]]:
    """Consecutive batch sizes grouped until each group holds at least `chunk` examples."""
    groups: list[list[int]] = [[]]
    for size in sizes:
        if sum(groups[-1]) >= chunk:
            groups.append([])
        groups[-1].append(size)
    return groups if groups[0] else []


class _StoreBatchDataset(Dataset):
    """Indexing with an array of positions returns a whole batch from the memmap.

    With `augment`, the index is (epoch, positions) and the batch comes back augmented. With
    `with_rows`, the batch's store rows come too (the batched backend augments after
    collation, keyed by row).
    """

    def __init__(
        self,
        store: ImageStore,
        rows: np.ndarray,
        targets: np.ndarray | None,
        augment: Augment | None = None,
        with_rows: bool = False,
    ) -> None:
        self.pixels = store.pixels
        self.rows = rows
        self.labels = store.label_indices(rows) if targets is None else targets
        self.augment = augment
        self.with_rows = with_rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key) -> Batch:
        epoch, positions = key if self.augment is not None else (0, key)
        sizes = None
        if self.with_rows:  # a chunk of whole batches: (sizes, positions)
            sizes, positions = key
        order = np.argsort(positions, kind="stable")  # sorted reads are sequential on disk
        positions = np.asarray(positions)[order]
        rows = self.rows[positions]
        batch = np.ascontiguousarray(self.pixels[rows])
        if self.augment is not None:
            batch = self.augment(batch, rows, epoch)
        labels = np.ascontiguousarray(self.labels[positions])
        if not self.with_rows:
            return torch.from_numpy(batch), torch.from_numpy(labels)
        # A chunk of several batches: back in the sampler's order, so that splitting it by
        # `sizes` gives back each batch's own examples.
        back = np.argsort(order, kind="stable")
        return (
            torch.from_numpy(np.ascontiguousarray(batch[back])),
            torch.from_numpy(labels[back]),
            torch.from_numpy(rows[back].astype(np.int64)),
            torch.as_tensor(sizes),
        )


class _Chunks(Sampler):
    """The sampler's consecutive batches grouped into chunks of at least `rows` examples,
    as (sizes, positions): the batched backend augments a whole chunk per call."""

    def __init__(self, sampler: GlobalBatchSampler, rows: int) -> None:
        self.sampler, self.rows = sampler, rows

    def __iter__(self) -> Iterator[tuple[list[int], np.ndarray]]:
        batches = list(self.sampler)
        start = 0
        for group in chunk_groups([len(batch) for batch in batches], self.rows):
            yield group, np.concatenate(batches[start : start + len(group)])
            start += len(group)

    def __len__(self) -> int:
        return len(chunk_groups([len(batch) for batch in self.sampler], self.rows))


class _WithEpoch(Sampler):
    """The sampler's batches tagged with their epoch: a worker process needs it to seed the
    batch's augmentation, and cannot see `set_epoch` calls made in the training process."""

    def __init__(self, sampler: GlobalBatchSampler) -> None:
        self.sampler = sampler

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        epoch = self.sampler.epoch
        for positions in self.sampler:
            yield epoch, positions

    def __len__(self) -> int:
        return len(self.sampler)


def seed_worker(worker_id: int) -> None:
    """NumPy and `random` in a DataLoader worker follow the seed torch gave the worker.

    torch derives each worker's seed from the loader's seeded generator, so augmentation
    drawn with NumPy or `random` is reproducible per worker and per epoch.
    """
    import random

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def loader_workers(requested: int | str, world: int = 1) -> int:
    """`auto`: the cores this process may use, less one for the training loop, at most 8."""
    if requested != "auto":
        return int(requested)
    return max(0, min(8, usable_cores() // max(world, 1) - 1))


def cpu_threads_beside(workers: int, world: int = 1) -> int:
    """Torch threads for training on CPU beside `workers` busy (augmenting) worker processes.

    Each worker keeps a core busy; OpenMP threads sharing those cores wait on each other at
    every parallel region (measured on 2 cores: a 1-thread step beside 1 augmenting worker ran
    2-3x faster than a 2-thread one), so the training loop takes only the cores left over.
    """
    return max(1, usable_cores() // max(world, 1) - workers)


class StoreBatches:
    """A split streamed from the memory-mapped store, for splits too large for the device.

    `augment`: albumentations' `Augmenter` runs in the workers; a `BatchAugmenter` runs in
    this process on the device, on chunks of whole batches that the workers read as one
    (`chunk_rows`: torch's per-op overhead is paid per chunk, not per small batch).
    """

    def __init__(
        self,
        store: ImageStore,
        rows: np.ndarray,
        batch_size: int,
        device: torch.device,
        shuffle: bool = False,
        seed: int = 0,
        num_workers: int = 0,
        targets: np.ndarray | None = None,
        shard: Shard = Shard(),
        augment: Augment | BatchAugmenter | None = None,
    ) -> None:
        self.batch_augment = augment if isinstance(augment, BatchAugmenter) else None
        if self.batch_augment is not None:
            augment = None  # not in the workers
        self.dataset = _StoreBatchDataset(
            store, rows, targets, augment, with_rows=self.batch_augment is not None
        )
        self.pixel_max = store.pixel_max if augment is None else 1  # augmented: already [0, 1]
        self.device = device
        self.batch_size = batch_size
        self.sampler = GlobalBatchSampler(len(rows), batch_size, shuffle, seed, shard)
        on_cuda = device.type == "cuda"
        if self.batch_augment is not None:
            rows_per_chunk = chunk_rows(batch_size, tuple(store.image_shape))
            loader_sampler: Sampler = _Chunks(self.sampler, rows_per_chunk)
        else:
            loader_sampler = self.sampler if augment is None else _WithEpoch(self.sampler)
        self.loader = DataLoader(
            self.dataset,
            sampler=loader_sampler,
            batch_size=None,
            num_workers=num_workers,
            pin_memory=on_cuda,
            persistent_workers=num_workers > 0,
            prefetch_factor=(4 if on_cuda else 2) if num_workers > 0 else None,
            worker_init_fn=seed_worker if num_workers > 0 else None,
            generator=torch.Generator().manual_seed(seed),
        )

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def num_batches(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[Batch]:
        non_blocking = self.device.type == "cuda"
        epoch = self.sampler.epoch
        for pixels, labels, *chunk in self.loader:
            x = to_model_input(pixels.to(self.device, non_blocking=non_blocking), self.pixel_max)
            y = labels.to(self.device, non_blocking=non_blocking)
            if self.batch_augment is None:
                yield x, y
                continue
            rows, sizes = chunk
            x = self.batch_augment(x, rows.to(self.device, non_blocking=non_blocking), epoch)
            split = sizes.tolist()
            yield from zip(torch.split(x, split), torch.split(y, split), strict=True)


class EpochCopies:
    """Training batches from offline augmented copies (the `augment` stage): epoch e reads
    copy (e - 1) mod N, each copy batched exactly as the train split would be (same seeded
    order), so only the images differ from augmenting on the fly."""

    def __init__(self, copies: list[TensorBatches | StoreBatches]) -> None:
        if not copies:
            raise ValueError("EpochCopies needs at least one copy")
        self.copies = copies
        self.epoch = 1

    def current(self) -> TensorBatches | StoreBatches:
        return self.copies[(self.epoch - 1) % len(self.copies)]

    @property
    def sampler(self) -> GlobalBatchSampler:
        return self.current().sampler

    def __len__(self) -> int:
        return len(self.copies[0])

    @property
    def num_batches(self) -> int:
        return self.copies[0].num_batches

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.current().set_epoch(epoch)

    def __iter__(self) -> Iterator[Batch]:
        return iter(self.current())


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
    targets: np.ndarray | None = None,
    shard: Shard = Shard(),
    augment: Augment | BatchAugmenter | None = None,
) -> TensorBatches | StoreBatches:
    """Batches of `split` (or of the given rows), held in memory when small enough.

    `targets` (aligned with the rows) replaces the class indices, e.g. multi-label targets.
    `augment`: a `BatchAugmenter` augments on the device wherever the split lives; any other
    (albumentations per image) streams the rows through at least one worker process,
    augmenting each batch there, so augmentation overlaps training whatever the split's size.
    """
    rows = split_rows(store, split) if rows is None else rows
    if augment is not None and not isinstance(augment, BatchAugmenter):
        workers = max(1, num_workers)
        return StoreBatches(
            store, rows, batch_size, device, shuffle, seed, workers, targets, shard, augment
        )
    float_bytes = len(rows) * int(np.prod(store.pixels.shape[1:])) * 4
    if float_bytes <= in_memory_max_mb * 1e6:
        return TensorBatches.from_store(
            store, rows, batch_size, device, shuffle, seed, targets, shard, augment
        )
    return StoreBatches(
        store, rows, batch_size, device, shuffle, seed, num_workers, targets, shard, augment
    )
