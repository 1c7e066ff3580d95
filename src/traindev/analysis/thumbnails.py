"""Small PNG thumbnails of store images, for the error sheet and the report's galleries.

Images smaller than the thumbnail are enlarged by a whole-number factor with nearest
neighbour, so each 8x8 digit pixel stays a crisp square a reviewer can judge ("is this
blurry?") instead of a smoothed blob; larger images are reduced with a box filter. Intensity
is scaled by the store's `pixel_max`, so 16 means white for the digits and 255 for photos.
PNG output carries no timestamp, so the same pixels always give the same bytes (DVC-friendly).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from traindev.reporting.templating import png_data_uri

THUMBNAIL_DIR = "thumbnails"
THUMBNAIL_SIZE = 64  # pixels on the long side, roughly
_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA
_SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def thumbnail_image(image: np.ndarray, pixel_max: int, size: int = THUMBNAIL_SIZE) -> Image.Image:
    """A Pillow image of one (H, W, C) store image, about `size` pixels on its long side."""
    if image.ndim != 3 or image.shape[-1] not in _CHANNELS:
        raise ValueError(
            f"a thumbnail needs an (H, W, C) image with C in {_CHANNELS}, got {image.shape}"
        )
    if pixel_max < 1:
        raise ValueError(f"pixel_max must be at least 1, got {pixel_max}")
    scaled = np.clip(np.rint(image.astype(np.float32) * (255.0 / pixel_max)), 0, 255)
    channels = image.shape[-1]
    array = scaled.astype(np.uint8)
    picture = Image.fromarray(array[..., 0] if channels == 1 else array)  # L, RGB or RGBA
    height, width = image.shape[:2]
    long_side = max(height, width)
    if long_side < size:
        factor = max(1, size // long_side)
        return picture.resize((width * factor, height * factor), Image.Resampling.NEAREST)
    if long_side > size:
        ratio = size / long_side
        target = (max(1, round(width * ratio)), max(1, round(height * ratio)))
        return picture.resize(target, Image.Resampling.BOX)
    return picture


def thumbnail_png(image: np.ndarray, pixel_max: int, size: int = THUMBNAIL_SIZE) -> bytes:
    buffer = io.BytesIO()
    thumbnail_image(image, pixel_max, size).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def thumbnail_data_uri(image: np.ndarray, pixel_max: int, size: int = THUMBNAIL_SIZE) -> str:
    """A `data:` URI, so an HTML page can show the image without files beside it."""
    return png_data_uri(thumbnail_png(image, pixel_max, size))


def thumbnail_path(example_id: str) -> str:
    """The thumbnail's path relative to the sheet; the id must be a plain file name."""
    if not _SAFE_ID.fullmatch(str(example_id)):
        raise ValueError(
            f"example id {example_id!r} cannot name a thumbnail file: use letters, digits, "
            "'.', '_' or '-' (store ids are content hashes)"
        )
    return f"{THUMBNAIL_DIR}/{example_id}.png"


def write_thumbnails(
    pixels: np.ndarray,
    ids: Sequence[str],
    pixel_max: int,
    out_dir: Path,
    size: int = THUMBNAIL_SIZE,
) -> list[str]:
    """Write `<out_dir>/thumbnails/<id>.png` per image; return the paths relative to out_dir.

    `size` is the thumbnail's long side (see `thumbnail_image`): detection draws its boxes on
    larger thumbnails. Files are written in place: callers publish `out_dir` atomically
    (atomic_directory).
    """
    if len(pixels) != len(ids):
        raise ValueError(f"{len(ids)} ids for {len(pixels)} images; they must pair row by row")
    paths = [thumbnail_path(example_id) for example_id in ids]
    (Path(out_dir) / THUMBNAIL_DIR).mkdir(parents=True, exist_ok=True)
    for image, relative in zip(pixels, paths, strict=True):
        (Path(out_dir) / relative).write_bytes(thumbnail_png(np.asarray(image), pixel_max, size))
    return paths
