"""data/augmented's layout: its extra columns, the empty store, and one copy's rows.

Apart from data/materialize.py (which writes the copies and needs torch) so that the augment
stage's default, `offline_copies: 0`, writes its empty store without importing torch, and the
train stage reads a copy's rows without the writer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from traindev.data.store import ImageStore, empty_manifest, read_metadata, write_store
from traindev.records.store import AugmentedMetadata

AUGMENTED_PIXEL_MAX = 255
COPY_COLUMN = "augment.copy"
SPLIT_ROW_COLUMN = "augment.split_row"
SOURCE_ID_COLUMN = "augment.source_id"  # the original image's id (`id` is the augmented one's)


def write_empty(target: Path, split: Path) -> None:
    """`offline_copies: 0`: an empty store, so the DVC graph is the same either way."""
    metadata = read_metadata(split)
    pixels = np.zeros((0, *metadata.shape), dtype=np.uint8)
    write_store(
        target,
        empty_manifest(),
        pixels,
        metadata.classes,
        AUGMENTED_PIXEL_MAX,
        AugmentedMetadata,
        copies=0,
    )


def copy_rows(offline: ImageStore, copy: int) -> np.ndarray:
    """Rows of the offline store holding copy `copy`, in the train split's row order."""
    return np.flatnonzero(offline.manifest[COPY_COLUMN].to_numpy() == copy)
