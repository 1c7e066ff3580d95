"""Digit stores like data/ingested and data/synthesized, small and in memory, for the
detection canvases."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from traindev.data.sources.sklearn_digits import (
    DIGIT_CLASSES,
    DIGITS_PIXEL_MAX,
    load_sklearn_digits,
)
from traindev.data.store import ImageStore, content_ids


@cache
def _digits(domain: str) -> tuple[pd.DataFrame, np.ndarray]:
    return load_sklearn_digits(domain)


def real_digits(n: int = 120) -> ImageStore:
    """The first n of scikit-learn's handwritten digits, domain `handwritten`."""
    manifest, pixels = _digits("handwritten")
    return ImageStore(manifest.iloc[:n].copy(), pixels[:n], DIGIT_CLASSES, DIGITS_PIXEL_MAX)


def synthetic_digits(n: int = 80) -> ImageStore:
    """n other digits, thickened by one pixel so their ids differ: domain `synthetic`."""
    manifest, pixels = _digits("synthetic")
    pixels = pixels[-n:].copy()
    pixels[:, :, 1:] = np.maximum(pixels[:, :, 1:], pixels[:, :, :-1])
    manifest = manifest.iloc[-n:].reset_index(drop=True)
    manifest["id"] = content_ids(pixels)
    manifest["origin"] = "synthetic"
    return ImageStore(manifest, pixels, DIGIT_CLASSES, DIGITS_PIXEL_MAX)
