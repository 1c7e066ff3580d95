"""Offline augmentation: `train.augment.offline_copies` augmented copies of the train split.

Why: a transform too slow to run on the fly (albumentations per image manages about 3,500
digits a second per worker on a small machine) costs training nothing once its output is read
back from a store. Copy k holds exactly what training epoch k + 1 draws on the fly (the same
(seed, epoch, store row) keys, the same backend), rounded to uint8 at 255 levels, and
training epoch e reads copy (e - 1) mod N: with N >= train.epochs an offline run trains on
the on-the-fly images up to that rounding; with fewer it cycles through them, trading
variety for disk.

The store follows the data contract (a manifest row per image, uint8 NHWC pixels), with
`split` = train everywhere, `augment.copy`, `augment.split_row` (the image's row in
data/split) and `augment.source_id` (its id there) as extra columns. Copies are written
chunk by chunk into a memory-mapped array, so a split larger than memory materializes too,
and the directory appears only when whole.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from traindev.atomic import atomic_directory
from traindev.config import TrainParams
from traindev.data.augmentation import Augmenter, make_augmenter
from traindev.data.batch_augmentation import BatchAugmenter, chunk_rows
from traindev.data.batches import split_rows, to_model_input
from traindev.data.offline_store import (
    AUGMENTED_PIXEL_MAX,
    COPY_COLUMN,
    SOURCE_ID_COLUMN,
    SPLIT_ROW_COLUMN,
)
from traindev.data.store import (
    METADATA_FILE,
    PIXELS_FILE,
    ImageStore,
    content_ids,
    validate_store,
    write_manifest_and_metadata,
)
from traindev.machine import usable_cores
from traindev.records.io import read_record
from traindev.records.store import AugmentedMetadata

ALBUMENTATIONS_CHUNK = 256  # images per worker task: small enough to keep every worker busy


class OfflineCopiesError(ValueError):
    """data/augmented does not hold what the params ask for (the augment stage is stale)."""


@dataclass(frozen=True)
class Materialized:
    copies: int
    images: int  # per copy
    backend: str
    seconds: float


def quantize(images: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8 at 255 levels (round to nearest)."""
    return np.rint(np.clip(images, 0.0, 1.0) * AUGMENTED_PIXEL_MAX).astype(np.uint8)


class _CopyChunks(Dataset):
    """Task i: one chunk of one copy, augmented as training epoch copy + 1 would augment it."""

    def __init__(
        self, store: ImageStore, rows: np.ndarray, augmenter, copies: int, chunk: int
    ) -> None:
        self.pixels, self.pixel_max = store.pixels, store.pixel_max
        self.rows, self.augmenter = rows, augmenter
        starts = range(0, len(rows), chunk)
        self.tasks = [
            (copy, start, min(start + chunk, len(rows)))
            for copy in range(copies)
            for start in starts
        ]

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index: int) -> np.ndarray:
        copy, start, stop = self.tasks[index]
        rows = self.rows[start:stop]
        pixels = np.ascontiguousarray(self.pixels[rows])
        epoch = copy + 1
        if isinstance(self.augmenter, BatchAugmenter):
            x = to_model_input(torch.from_numpy(pixels), self.pixel_max)
            index_rows = torch.from_numpy(rows.astype(np.int64))
            images = self.augmenter(x, index_rows, epoch).permute(0, 2, 3, 1).numpy()
        else:
            images = self.augmenter(pixels, rows, epoch)
        return quantize(images)


def _chunks(dataset: _CopyChunks, workers: int) -> Iterator[np.ndarray]:
    """The tasks' outputs in order (worker processes for the per-image backend)."""
    if workers == 0:
        yield from (dataset[i] for i in range(len(dataset)))
        return
    loader = DataLoader(dataset, batch_size=None, num_workers=workers)
    for images in loader:
        yield np.asarray(images)


def materialize(store: ImageStore, params: TrainParams, target: Path) -> Materialized:
    """Write `params.augment.offline_copies` augmented copies of the train split to `target`."""
    copies = params.augment.offline_copies
    augmenter = make_augmenter(params.augment, store, params.seed)
    if augmenter is None:
        raise ValueError(
            "train.augment.offline_copies > 0 but the augmentation is empty (preset: none and "
            "no transforms): declare transforms or set offline_copies: 0"
        )
    rows = split_rows(store, "train")
    per_image = isinstance(augmenter, Augmenter)
    chunk = ALBUMENTATIONS_CHUNK if per_image else chunk_rows(1, store.image_shape)
    workers = usable_cores() if per_image and usable_cores() > 1 else 0
    dataset = _CopyChunks(store, rows, augmenter, copies, chunk)
    height, width, channels = store.pixels.shape[1:]
    start_time = time.perf_counter()
    with atomic_directory(Path(target)) as staging:
        pixels = np.lib.format.open_memmap(
            staging / PIXELS_FILE,
            mode="w+",
            dtype=np.uint8,
            shape=(copies * len(rows), height, width, channels),
        )
        written, ids = 0, []
        for images in _chunks(dataset, workers):
            pixels[written : written + len(images)] = images
            written += len(images)
            ids += content_ids(images)  # while the chunk is in memory: no second pass
        manifest = _manifest(store, rows, copies, ids)
        validate_store(manifest, pixels, store.classes, AUGMENTED_PIXEL_MAX, where=str(target))
        pixels.flush()
        write_manifest_and_metadata(
            staging,
            manifest,
            pixels,
            store.classes,
            AUGMENTED_PIXEL_MAX,
            AugmentedMetadata,
            copies=copies,
            train_rows=len(rows),
            backend=augmenter.backend,
            seed=params.seed,
        )
        del pixels  # unmap before the directory is renamed into place
    return Materialized(copies, len(rows), augmenter.backend, time.perf_counter() - start_time)


def _manifest(store: ImageStore, rows: np.ndarray, copies: int, ids: list[str]) -> pd.DataFrame:
    """The train rows' manifest once per copy, with the augmented images' own content ids."""
    train = store.manifest.iloc[rows].reset_index(drop=True)
    frame = pd.concat([train] * copies, ignore_index=True)
    frame[COPY_COLUMN] = np.repeat(np.arange(copies), len(rows))
    frame[SPLIT_ROW_COLUMN] = np.tile(rows, copies)
    frame["split"] = "train"
    frame[SOURCE_ID_COLUMN] = frame["id"]
    frame["id"] = ids
    return frame


def check_offline(offline: ImageStore, split: ImageStore, copies: int) -> None:
    """Fail, naming the fix, when data/augmented was made for other params or another split."""
    made, made_rows = 0, 0  # a store held in memory only: never made for these params
    if offline.path is not None:
        metadata = read_record(offline.path / METADATA_FILE, AugmentedMetadata)
        made, made_rows = metadata.copies, metadata.train_rows or 0
    train_rows = split_rows(split, "train")
    stale = made != copies or len(offline.manifest) != copies * len(train_rows)
    if not stale and copies:  # the same images, in the same order, as the split's train rows
        first = offline.manifest.iloc[: len(train_rows)]
        stale = not (
            np.array_equal(first[SPLIT_ROW_COLUMN].to_numpy(), train_rows)
            and np.array_equal(
                first[SOURCE_ID_COLUMN].to_numpy(), split.manifest["id"].to_numpy()[train_rows]
            )
        )
    if stale:
        raise OfflineCopiesError(
            f"{offline.path}: holds {made} augmented copies of {made_rows} "
            f"training images; train.augment.offline_copies asks for {copies} of "
            f"{len(train_rows)}: run `dvc repro augment` (or the whole pipeline) first"
        )
