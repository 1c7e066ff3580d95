"""Decode image files once, at ingest, into uint8 HWC arrays of one size and channel count.

PIL does the decoding (plain 8-bit grey and RGB PNGs go through OpenCV's libpng instead,
the same pixels for less per image: `plain_png`); a file it cannot read becomes a
`BadImage` with a reason the user can act on, never an exception that stops a worker.
EXIF orientation is applied first, 16-bit and float images are scaled to 0..255 (16-bit by
257, so the intensity scale is kept rather than stretched per image), palettes are
expanded, and transparent pixels are composited onto black (the colour letterbox pads with).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from traindev.data.sources.plain_png import decode_plain_png
from traindev.data.store import content_id
from traindev.records.store import Resize

# PIL format names accepted, and the file suffixes the folder scan takes as images.
FORMATS = frozenset({"PNG", "JPEG", "MPO", "BMP", "TIFF", "WEBP"})  # MPO: many phone JPEGs
SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
RESAMPLE = Image.Resampling.BILINEAR  # antialiased when reducing; fast
WRITE_BLOCK_BYTES = 8 * 2**20  # decoded rows written to the pixel file per call


class BadImage(ValueError):
    """A file that cannot become an image of the store; the message is the reason."""


@dataclass(frozen=True)
class DecodeSpec:
    height: int
    width: int
    channels: int  # 1 or 3
    resize: Resize

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.height, self.width, self.channels


def decode_image(path: str, spec: DecodeSpec) -> np.ndarray:
    """One file -> uint8 array of `spec.shape`, or BadImage saying why not.

    The file is read in one call and decoded from memory: PIL reading the open file itself
    makes many small reads and Python-level chunk steps, about 10% of a small PNG's decode.
    """
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        raise BadImage("file not found") from None
    except OSError as exc:
        raise BadImage(f"unreadable file: {exc.strerror or exc}") from None
    if not data:
        raise BadImage("empty file (0 bytes)")
    plain = decode_plain_png(data, spec.channels)
    if plain is not None:
        return _fit_array(plain, spec)
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise BadImage(
                    f"unsupported format {image.format}; convert it to one of "
                    f"{', '.join(sorted(FORMATS - {'MPO'}))}"
                )
            if image.format in ("JPEG", "MPO"):
                side = max(spec.height, spec.width)
                image.draft(None, (side, side))  # DCT-domain downscale, never below the target
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # no copy when nothing to turn
            array = _fit(_to_mode(image, spec.channels), spec)
    except BadImage:
        raise
    except UnidentifiedImageError:
        raise BadImage("not an image PIL can identify (unsupported format or corrupt)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadImage(f"unreadable or truncated image: {exc}") from None
    if array.ndim == 2:
        array = array[..., np.newaxis]
    return array


def read_bytes(path: str) -> bytes:
    """The whole file, in one read of its size (no buffered file object: 20% cheaper per
    small file than `open(...).read()`)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(descriptor).st_size
        parts = []
        while block := os.read(descriptor, max(size, 1 << 16)):
            parts.append(block)
            if len(block) == size:  # the usual case: all of it in one read
                break
        return b"".join(parts)  # one part: that bytes object itself, no copy
    finally:
        os.close(descriptor)


def _to_mode(image: Image.Image, channels: int) -> Image.Image:
    """Any PIL mode -> 8-bit "L" (channels 1) or "RGB" (channels 3)."""
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        image = Image.fromarray(_scale_to_uint8(np.asarray(image), mode), "L")
    elif mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "1":
        image = image.convert("L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, 0)
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    wanted = "L" if channels == 1 else "RGB"
    return image if image.mode == wanted else image.convert(wanted)


def _scale_to_uint8(array: np.ndarray, mode: str) -> np.ndarray:
    if mode == "F":
        values = array * 255.0 if float(np.nanmax(array, initial=0.0)) <= 1.0 else array
    else:  # 16-bit (or 32-bit integer holding 16-bit data): 0..65535 -> 0..255
        values = array.astype(np.float32) / 257.0 if array.max(initial=0) > 255 else array
    return np.clip(np.nan_to_num(values), 0, 255).round().astype(np.uint8)


def _fit_array(array: np.ndarray, spec: DecodeSpec) -> np.ndarray:
    """A decoded L / RGB array fitted to `spec` exactly as `_fit` fits the PIL image."""
    if array.shape[:2] != (spec.height, spec.width):
        array = _fit(Image.fromarray(array), spec)
    return array[..., np.newaxis] if array.ndim == 2 else array


def _fit(image: Image.Image, spec: DecodeSpec) -> np.ndarray:
    size = (spec.width, spec.height)
    if image.size != size:
        if spec.resize == "stretch":
            image = image.resize(size, RESAMPLE)
        elif spec.resize == "letterbox":
            image = ImageOps.pad(image, size, RESAMPLE, color=0)
        else:
            image = ImageOps.fit(image, size, RESAMPLE)
    return np.asarray(image, dtype=np.uint8)


@dataclass(frozen=True)
class ChunkTask:
    """A chunk of files for one process, and the .npy file their pixels go into."""

    start: int  # row of the first file in the pixel file
    files: list[str]
    spec: DecodeSpec
    pixels: str  # a preallocated .npy of shape (all files, *spec.shape)
    data_offset: int  # where its array data starts (after the .npy header)


@dataclass(frozen=True)
class ChunkResult:
    start: int
    ids: list[str | None]  # content id per file; None where it failed
    errors: list[tuple[int, str]]  # (position within the chunk, reason)


def decode_chunk(task: ChunkTask) -> ChunkResult:
    """Decode a chunk straight into its rows of the preallocated pixel file.

    Pixels never travel between processes: only ids and reasons come back, so the work
    added to a plain decode loop is the content hash and one copy into the page cache. The
    rows go out in blocks of consecutive rows (`pwrite`, which costs less than first-touch
    faults through a mapping of the file; one call per block, not per image: half the cost
    per small image). Rows of files that fail are written as zeros.
    """
    row_bytes = math.prod(task.spec.shape)
    per_block = max(1, min(len(task.files), WRITE_BLOCK_BYTES // row_bytes))
    block = np.empty((per_block, *task.spec.shape), dtype=np.uint8)
    ids: list[str | None] = []
    errors: list[tuple[int, str]] = []
    descriptor = os.open(task.pixels, os.O_WRONLY)
    try:
        for first in range(0, len(task.files), per_block):
            files = task.files[first : first + per_block]
            for slot, path in enumerate(files):
                try:
                    block[slot] = decode_image(path, task.spec)
                except BadImage as exc:
                    errors.append((first + slot, str(exc)))
                    ids.append(None)
                    block[slot] = 0
                    continue
                ids.append(content_id(block[slot]))
            offset = task.data_offset + (task.start + first) * row_bytes
            _write_all(descriptor, block[: len(files)], offset, task.pixels)
    finally:
        os.close(descriptor)
    return ChunkResult(task.start, ids, errors)


def _write_all(descriptor: int, rows: np.ndarray, offset: int, name: str) -> None:
    view = memoryview(rows).cast("B")
    while len(view):
        written = os.pwrite(descriptor, view, offset)
        if written <= 0:
            raise OSError(f"short write to {name} (disk full?)")
        view, offset = view[written:], offset + written
