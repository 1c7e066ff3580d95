"""`traindev split`: combine the domains and assign train / train-dev / dev / test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from traindev import paths
from traindev.atomic import atomic_file, write_json
from traindev.config import SplitParams
from traindev.data.split import SPLIT_ORDER, assign_splits, split_summary
from traindev.data.store import (
    MANIFEST_FILE,
    PIXELS_FILE,
    DataContractError,
    ImageStore,
    file_md5,
    read_store,
    write_store,
)

SOURCES = (paths.INGESTED, paths.SYNTHESIZED)


def run(params: SplitParams, sources: tuple[Path, ...] = SOURCES) -> str:
    stores = [read_store(source) for source in sources]
    manifest, pixels, classes, pixel_max = combine_stores(stores)
    result = assign_splits(manifest, params)
    summary = split_summary(manifest, result, params.target_domain, classes)

    keep = result.split.notna().to_numpy()
    order = np.flatnonzero(keep)
    # Rows grouped by split (then by their original order) so each split is a contiguous block.
    order = order[np.argsort(result.split.iloc[order].map(SPLIT_ORDER).to_numpy(), kind="stable")]
    split_manifest = manifest.iloc[order].assign(split=result.split.iloc[order].to_numpy())
    write_store(
        paths.SPLIT,
        split_manifest.reset_index(drop=True),
        pixels[order],
        classes,
        pixel_max,
        extra_metadata={"target_domain": params.target_domain, "totals": summary["totals"]},
    )
    summary["files_md5"] = {
        name: file_md5(paths.SPLIT / name) for name in (MANIFEST_FILE, PIXELS_FILE)
    }
    write_json(paths.SPLIT_REPORT / "summary.json", summary)
    with atomic_file(paths.SPLIT_REPORT / "duplicates_dropped.csv") as handle:
        result.dropped_duplicates.to_csv(handle, index=False)
    totals = ", ".join(f"{name} {summary['totals'].get(name, 0)}" for name in SPLIT_ORDER)
    dropped = len(result.dropped_duplicates)
    return f"split {len(split_manifest)} images: {totals}; {dropped} cross-split duplicates dropped"


def combine_stores(stores: list[ImageStore]) -> tuple[pd.DataFrame, np.ndarray, list[str], int]:
    """Stack several stores into one manifest and pixel array, checking they are compatible.

    An empty store (`synthesize.count: 0`) adds nothing, not even its class list or its shape.
    """
    stores = [store for store in stores if len(store.manifest)] or stores[:1]
    first = stores[0]
    for store in stores[1:]:
        if store.pixels.shape[1:] != first.pixels.shape[1:]:
            raise DataContractError(
                f"{store.path}: images are {store.pixels.shape[1:]} (HWC) but {first.path} has "
                f"{first.pixels.shape[1:]}; ingest every domain at the same size and channels"
            )
        if store.pixel_max != first.pixel_max:
            raise DataContractError(
                f"{store.path}: pixel scale 0..{store.pixel_max} differs from {first.path}'s "
                f"0..{first.pixel_max}"
            )
    classes = list(first.classes)
    for store in stores[1:]:
        classes += [label for label in store.classes if label not in classes]
    manifest = pd.concat([store.manifest for store in stores], ignore_index=True)
    pixels = np.concatenate([np.asarray(store.pixels) for store in stores])
    return manifest, pixels, classes, first.pixel_max
