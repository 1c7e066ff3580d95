"""`traindev split`: combine the domains and assign train / train-dev / dev / test.

Beside the split store, in reports/split/: `summary.json` (counts, the pool use per
source domain, whether dev and test are big enough, warnings; a DVC metric),
`duplicates_dropped.csv` (identical pixels in two splits) and `near_duplicates.csv`
(train images near a dev/test image, with `split.near_duplicates.enabled`).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from traindev import paths
from traindev.atomic import atomic_file
from traindev.config import Params, SplitParams
from traindev.data.near_duplicates import NEAR_DUPLICATE_COLUMNS, drop_near_duplicates
from traindev.data.split import SPLIT_ORDER, assign_splits, missing_classes, split_summary
from traindev.data.split_confidence import split_confidence
from traindev.data.store import (
    MANIFEST_FILE,
    PIXELS_FILE,
    DataContractError,
    ImageStore,
    file_md5,
    read_store,
    write_store,
)
from traindev.records import write_record
from traindev.records.split import SplitSummary
from traindev.records.store import SplitMetadata

SOURCES = paths.SPLIT_SOURCES
log = logging.getLogger(__name__)


def run(params: Params) -> str:
    """The stage: detection splits the canvas store (its boxes and masks follow its rows),
    every other task the ingested and synthesized stores."""
    return split_stores(params.split, paths.split_sources(params.task))


def split_stores(params: SplitParams, sources: tuple[Path, ...] = SOURCES) -> str:
    stores = [read_store(source) for source in sources]
    manifest, pixels, classes, pixel_max = combine_stores(stores)
    result = assign_splits(manifest, params)
    near = pd.DataFrame(columns=NEAR_DUPLICATE_COLUMNS)
    if params.near_duplicates.enabled:
        cleaned, near = drop_near_duplicates(
            manifest, pixels, result.split, params.near_duplicates.max_distance
        )
        result = dataclasses.replace(result, split=cleaned)
    summary = split_summary(manifest, result, params.target_domain, classes)
    summary["stratify"] = params.stratify
    summary["near_duplicates"] = {
        **params.near_duplicates.model_dump(),
        "dropped": len(near),
    }
    totals = summary["totals"]
    summary["confidence"], warnings = split_confidence(
        totals.get("dev", 0),
        totals.get("test", 0),
        params.expected_error,
        params.min_resolvable_difference,
    )
    summary["missing_classes"], class_warnings = missing_classes(
        manifest, result.split, params.target_domain, classes
    )
    warnings = warnings + class_warnings
    summary["warnings"] = warnings
    for warning in warnings:
        log.warning("split: %s", warning)

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
        SplitMetadata,
        target_domain=params.target_domain,
        totals=totals,
    )
    if (sources[0] / paths.BOXES_FILE).is_file():  # a detection store: boxes and masks follow
        carry_objects(sources[0], split_manifest["id"], order, paths.SPLIT)
    summary["files_md5"] = {
        name: file_md5(paths.SPLIT / name) for name in (MANIFEST_FILE, PIXELS_FILE)
    }
    write_record(paths.SPLIT_SUMMARY, SplitSummary.model_validate(summary))
    with atomic_file(paths.SPLIT_REPORT / "duplicates_dropped.csv") as handle:
        result.dropped_duplicates.to_csv(handle, index=False)
    with atomic_file(paths.SPLIT_REPORT / "near_duplicates.csv") as handle:
        near.to_csv(handle, index=False)
    counts = ", ".join(f"{name} {totals.get(name, 0)}" for name in SPLIT_ORDER)
    message = (
        f"split {len(split_manifest)} images: {counts}; "
        f"{len(result.dropped_duplicates)} cross-split duplicates dropped"
    )
    if params.near_duplicates.enabled:
        message += f", {len(near)} near-duplicates of dev/test images dropped from train"
    if warnings:
        message += f"; {len(warnings)} warning(s) in {paths.SPLIT_SUMMARY}"
    return message


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


def carry_objects(source: Path, ids: pd.Series, order: np.ndarray, target: Path) -> None:
    """The source store's box table (the kept ids' rows, in the split's row order) and its
    instance masks (rows reordered as the pixels) into the split store."""
    from traindev.tasks.detection.box_table import read_boxes, write_boxes

    boxes = read_boxes(source / paths.BOXES_FILE)
    position = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
    kept = boxes[boxes["id"].isin(position.index)]
    kept = kept.assign(_row=kept["id"].map(position)).sort_values(["_row", "object"])
    write_boxes(target / paths.BOXES_FILE, kept.drop(columns="_row"))
    masks_file = source / paths.MASKS_FILE
    if masks_file.is_file():
        masks = np.load(masks_file, mmap_mode="r")
        with atomic_file(target / paths.MASKS_FILE, "wb") as handle:
            np.save(handle, np.ascontiguousarray(masks[order]))
