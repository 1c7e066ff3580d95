"""Tiny detection stores: canvases of filled rectangles whose class is their brightness.

Quick to build and easy to learn, so training, resume and prediction tests run in seconds;
the boxes are known exactly (the rectangle's pixels), so a test can find them in the pixels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from traindev.data.store import ImageStore
from traindev.tasks.detection.box_table import box_frame

CLASSES = ["dim", "mid", "bright"]


def rectangle_canvases(
    n: int = 32, side: int = 32, objects: int = 2, seed: int = 0
) -> tuple[ImageStore, pd.DataFrame]:
    """n canvases of 1..`objects` non-overlapping rectangles; 3 in 4 train, the rest dev."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((n, side, side, 1), dtype=np.uint8)
    ids, numbers, labels, boxes = [], [], [], []
    for i in range(n):
        taken = np.zeros((side, side), dtype=bool)
        for k in range(int(rng.integers(1, objects + 1))):
            for _ in range(20):
                w, h = rng.integers(side // 6, side // 2, size=2)
                x, y = rng.integers(0, side - w), rng.integers(0, side - h)
                if not taken[y : y + h, x : x + w].any():
                    break
            else:
                continue
            label = int(rng.integers(len(CLASSES)))
            taken[y : y + h, x : x + w] = True
            pixels[i, y : y + h, x : x + w, 0] = 85 * (label + 1)
            ids.append(f"c{i}")
            numbers.append(k)
            labels.append(CLASSES[label])
            boxes.append([x, y, x + w, y + h])
    manifest = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(n)],
            "source": "canvases",
            "domain": "t",
            "label": "canvas",
            "origin": "real",
            "tags": [[] for _ in range(n)],
            "split": np.where(np.arange(n) % 4 == 3, "dev", "train"),
        }
    )
    store = ImageStore(manifest, pixels, list(CLASSES), 255)
    return store, box_frame(ids, numbers, labels, np.asarray(boxes, dtype=np.float32))
