"""The data contract: a manifest (Parquet) plus a uint8 NHWC pixel array beside it.

Row i of the manifest is image i of `pixels.npy`. The array is memory-mapped on
read so DataLoader workers never decode files and a large set never has to fit
in RAM. `dataset.json` holds what is stored once: the ordered class list, the
image shape and the pixel scale, and the writing stage's own facts (one record,
`traindev.records.store`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xxhash

from traindev.atomic import atomic_directory
from traindev.records.io import read_record, write_record
from traindev.records.store import StoreMetadata, StoreMetadataFile

MANIFEST_FILE = "manifest.parquet"
PIXELS_FILE = "pixels.npy"
METADATA_FILE = "dataset.json"

MANIFEST_COLUMNS = ["id", "source", "domain", "label", "origin", "tags"]
SPLITS = ("train", "train_dev", "dev", "test")
ORIGINS = ("real", "synthetic")


class DataContractError(ValueError):
    """A store that does not follow the data contract; the message names the file."""


@dataclass(frozen=True)
class ImageStore:
    """A manifest with its pixels, as read from one directory."""

    manifest: pd.DataFrame
    pixels: np.ndarray  # uint8 (N, H, W, C), usually a read-only memmap
    classes: list[str]
    pixel_max: (
        int  # the value that means full ink / full intensity (16 for the digits, 255 for photos)
    )
    path: Path | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W), the layout models consume."""
        _, height, width, channels = self.pixels.shape
        return channels, height, width

    def label_indices(self, rows: pd.Index | np.ndarray | None = None) -> np.ndarray:
        labels = self.manifest["label"] if rows is None else self.manifest["label"].iloc[rows]
        return pd.Categorical(labels, categories=self.classes).codes.astype(np.int64)


def content_id(image: np.ndarray) -> str:
    """Stable content hash of one image's pixels and shape (XXH3-64, 16 hex chars).

    Identical pixels get identical ids: that is what makes dedup and leak checks cheap. XXH3
    rather than a cryptographic hash because ingest hashes every decoded image: BLAKE2b cost
    10-20% of a decode (about 1 GB/s), XXH3 under 1%, and ids need no attack resistance
    (a chance collision among 10 million images: about 3 in a million).
    """
    digest = xxhash.xxh3_64(str(image.shape).encode())
    digest.update(np.ascontiguousarray(image))
    return digest.hexdigest()


def content_ids(pixels: np.ndarray) -> list[str]:
    return [content_id(image) for image in pixels]


def write_store(
    target: Path,
    manifest: pd.DataFrame,
    pixels: np.ndarray,
    classes: list[str],
    pixel_max: int,
    kind: type[StoreMetadata] = StoreMetadata,
    **facts: object,
) -> None:
    """Validate and write a store atomically (all three files or none). `kind` and `facts`:
    the writing stage's metadata record and its own fields (validated before anything is
    written)."""
    validate_store(manifest, pixels, classes, pixel_max, where=str(target))
    with atomic_directory(Path(target)) as staging:
        np.save(staging / PIXELS_FILE, np.ascontiguousarray(pixels, dtype=np.uint8))
        write_manifest_and_metadata(staging, manifest, pixels, classes, pixel_max, kind, **facts)


def write_manifest_and_metadata(
    staging: Path,
    manifest: pd.DataFrame,
    pixels: np.ndarray,
    classes: list[str],
    pixel_max: int,
    kind: type[StoreMetadata] = StoreMetadata,
    **facts: object,
) -> None:
    """The manifest and dataset.json beside a validated store's pixels, into the staging
    directory of `atomic_directory` (stages that stream pixels into a memmap there write
    pixels.npy themselves)."""
    metadata = kind(
        classes=list(classes),
        pixel_max=int(pixel_max),
        shape=pixels.shape[1:],
        count=len(manifest),
        **facts,
    )
    manifest.reset_index(drop=True).to_parquet(staging / MANIFEST_FILE, index=False)
    write_record(staging / METADATA_FILE, metadata)


def empty_manifest() -> pd.DataFrame:
    """A manifest of no rows (an empty store keeps a stage's outputs, and the DVC graph)."""
    return pd.DataFrame({column: pd.Series(dtype=str) for column in MANIFEST_COLUMNS})


def read_store(source: Path, mmap: bool = True) -> ImageStore:
    """Read a store written by `write_store`, checking that its parts agree."""
    source = Path(source)
    for name in (MANIFEST_FILE, PIXELS_FILE, METADATA_FILE):
        if not (source / name).is_file():
            raise DataContractError(
                f"{source / name}: missing; run the stage that produces {source} (dvc repro)"
            )
    metadata = read_metadata(source)
    manifest = pd.read_parquet(source / MANIFEST_FILE)
    pixels = np.load(source / PIXELS_FILE, mmap_mode="r" if mmap else None)
    validate_store(manifest, pixels, metadata.classes, metadata.pixel_max, where=str(source))
    return ImageStore(manifest, pixels, list(metadata.classes), metadata.pixel_max, source)


def read_metadata(source: Path) -> StoreMetadata:
    """A store's dataset.json as the record of the stage that wrote it (a subclass of
    StoreMetadata); a bad or stale file raises ReportInputError naming the file and field."""
    return read_record(Path(source) / METADATA_FILE, StoreMetadataFile).root


def validate_store(
    manifest: pd.DataFrame, pixels: np.ndarray, classes: list[str], pixel_max: int, where: str
) -> None:
    missing = [column for column in MANIFEST_COLUMNS if column not in manifest.columns]
    if missing:
        raise DataContractError(f"{where}: manifest lacks columns {missing}")
    if pixels.dtype != np.uint8 or pixels.ndim != 4:
        raise DataContractError(
            f"{where}: pixels must be uint8 NHWC, got {pixels.dtype} with shape {pixels.shape}"
        )
    if len(manifest) != len(pixels):
        raise DataContractError(
            f"{where}: manifest has {len(manifest)} rows but pixels hold {len(pixels)} images"
        )
    # Distinct values first: set() over a column of Arrow strings is 30x slower.
    unknown = sorted(set(manifest["label"].unique()) - set(classes))
    if unknown:
        raise DataContractError(
            f"{where}: labels {unknown[:5]} are not in the class list {classes}"
        )
    bad_origin = sorted(set(manifest["origin"].unique()) - set(ORIGINS))
    if bad_origin:
        raise DataContractError(f"{where}: origin must be one of {ORIGINS}, got {bad_origin}")
    if not 1 <= pixel_max <= 255:
        raise DataContractError(f"{where}: pixel_max must be in 1..255, got {pixel_max}")
    if "split" in manifest.columns:
        bad_split = sorted(set(manifest["split"].unique()) - set(SPLITS))
        if bad_split:
            raise DataContractError(f"{where}: split must be one of {SPLITS}, got {bad_split}")


def file_md5(path: Path, chunk: int = 1 << 20) -> str:
    """MD5 of a file, as DVC computes it for its cache (so tags match `dvc.lock`)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
