"""Tiny image folders and manifests for the ingest tests, written by the tests themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from traindev.config import IngestParams
from traindev.stages import ingest


def save(path: Path, pixels: np.ndarray, **options: Any) -> Path:
    """Write `pixels` (HxW grey or HxWx3 colour uint8) as the format the suffix names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **options)
    return path


def distinct_image(seed: int, shape: tuple[int, ...] = (8, 8, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def make_folder(
    root: Path, layout: dict[str, dict[str, int]], suffix: str = ".png", seed: int = 0
) -> Path:
    """`root/<domain>/<class>/<i><suffix>`, every image different."""
    for domain, classes in layout.items():
        for label, count in classes.items():
            for index in range(count):
                seed += 1
                save(root / domain / label / f"{index}{suffix}", distinct_image(seed))
    return root


def folder_params(root: Path, **overrides: Any) -> IngestParams:
    settings: dict[str, Any] = dict(
        source="folder", root=str(root), image_size=(8, 8), channels=3, workers=1
    )
    return IngestParams(**{**settings, **overrides})


def run_ingest(tmp_path: Path, params: IngestParams) -> str:
    return ingest.run(params, tmp_path / "ingested", tmp_path / "reports")
