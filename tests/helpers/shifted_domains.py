"""Two domains with a controlled shift: the same bar digits, crisp in one, blurred in the
other; dev holds only the blurred (target) domain, as the notes' option 2 split does."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

from traindev.data.store import ImageStore

SOURCE, TARGET = "crisp", "blurred"
CLASSES = ["0", "1", "2"]
PIXEL_MAX = 16


def bars(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(count, 12, 12) float images where class c lights a vertical band at 3c + 2, and labels."""
    labels = rng.integers(0, len(CLASSES), size=count)
    images = rng.uniform(0, 3, size=(count, 12, 12))
    for image, label in zip(images, labels, strict=True):
        start = 3 * label + 2
        image[rng.integers(1, 4) : rng.integers(9, 12), start : start + 2] = PIXEL_MAX
    return images, labels


def blurred_target_store(per_domain: int = 60, dev: int = 40, sigma: float = 1.5) -> ImageStore:
    """Train: `per_domain` crisp and `per_domain` blurred images; dev: `dev` blurred ones."""
    rng = np.random.default_rng(7)
    images, labels = bars(2 * per_domain + dev, rng)
    domains = np.array([SOURCE] * per_domain + [TARGET] * (per_domain + dev))
    splits = ["train"] * (2 * per_domain) + ["dev"] * dev
    blurred = domains == TARGET
    images[blurred] = ndimage.gaussian_filter(images[blurred], sigma=(0, sigma, sigma))
    pixels = np.clip(np.rint(images), 0, PIXEL_MAX).astype(np.uint8)[..., None]
    manifest = pd.DataFrame(
        {
            "id": [f"{domain}{row:03d}" for row, domain in enumerate(domains)],
            "source": "test",
            "domain": domains,
            "label": [CLASSES[label] for label in labels],
            "origin": "real",
            "tags": [[] for _ in labels],
            "split": splits,
        }
    )
    return ImageStore(manifest, pixels, list(CLASSES), PIXEL_MAX)
