"""Small in-memory image stores, for tests that batch, augment or train without a real split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traindev.data.store import ImageStore


def separable_store(n: int = 256) -> ImageStore:
    """Two classes told apart by which half of an 8x8 image is bright."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n)
    pixels = rng.integers(0, 4, (n, 8, 8, 1)).astype(np.uint8)
    for i, label in enumerate(labels):
        pixels[i, :, 4 * label : 4 * label + 4] += 12
    manifest = pd.DataFrame(
        {
            "id": [f"x{i}" for i in range(n)],
            "source": "t",
            "domain": "t",
            "label": labels.astype(str),
            "origin": "real",
            "tags": [[] for _ in range(n)],
            "split": np.where(np.arange(n) % 4 == 0, "dev", "train"),
        }
    )
    return ImageStore(manifest, pixels, ["0", "1"], 16)


def tiny_store(n: int = 48, side: int = 8, channels: int = 1, pixel_max: int = 16) -> ImageStore:
    """n random images: half train, a sixth each train_dev, dev and test."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, pixel_max + 1, (n, side, side, channels)).astype(np.uint8)
    splits = np.array(["train", "train", "train", "train_dev", "dev", "test"])[np.arange(n) % 6]
    manifest = pd.DataFrame(
        {
            "id": [f"x{i}" for i in range(n)],
            "source": "t",
            "domain": "t",
            "label": (np.arange(n) % 2).astype(str),
            "origin": "real",
            "tags": [[] for _ in range(n)],
            "split": splits,
        }
    )
    return ImageStore(manifest, pixels, ["0", "1"], pixel_max)
