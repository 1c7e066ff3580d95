"""Users' own images (a folder or a manifest) into the data contract, decoded once.

Checks that need no pixels run first, so a missing file or a stray label fails in
seconds, not after an hour of decoding. Pixels are decoded in parallel straight into a
memory-mapped `pixels.npy` inside the atomic output directory: a big folder never has to
fit in memory, and an interrupted run publishes nothing (the staging directory is removed,
or, after a hard kill, left hidden beside the output for the next run to clear).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from traindev.atomic import atomic_directory
from traindev.config import IngestParams
from traindev.data.sources.candidates import Candidates
from traindev.data.sources.decode import DecodeSpec
from traindev.data.sources.parallel import decode_into, resolve_workers
from traindev.data.sources.problems import (
    BadInputError,
    Problem,
    problems_frame,
    problems_message,
    raise_problems,
)
from traindev.data.store import (
    MANIFEST_COLUMNS,
    PIXELS_FILE,
    validate_store,
    write_manifest_and_metadata,
)
from traindev.records.store import ImagesMetadata

PIXEL_MAX = 255
COPY_BYTES = 64 * 2**20  # block size when compacting pixels after skipped files


@dataclass(frozen=True)
class IngestResult:
    manifest: pd.DataFrame
    classes: list[str]
    skipped: pd.DataFrame  # where, file, reason: empty unless on_bad_input is skip
    workers: int


def ingest_images(
    candidates: Candidates,
    params: IngestParams,
    target: Path,
    pool: ProcessPoolExecutor | None = None,
) -> IngestResult:
    """Decode `candidates` into a store at `target`, applying `params.on_bad_input`;
    `pool`: decoding processes already started (`decoder_pool`), else started here."""
    spec = DecodeSpec(*params.image_size, params.channels, params.resize)
    skip = params.on_bad_input == "skip"
    frame, problems = _check_labels(candidates.frame, params.classes)
    problems = candidates.problems + problems
    # Under `fail` the problems found so far are held back until every file is decoded, so
    # one run lists them all (an empty folder, a corrupt PNG and a zero-byte file together).
    check_structure(frame, params, candidates.origin, [] if skip else problems)
    frame = frame.reset_index(drop=True)
    workers = resolve_workers(params.workers, len(frame))

    with atomic_directory(Path(target)) as staging:
        pixels = np.lib.format.open_memmap(
            staging / PIXELS_FILE, mode="w+", dtype=np.uint8, shape=(len(frame), *spec.shape)
        )
        outcome = decode_into(frame["file"].tolist(), spec, pixels, workers, pool)
        failed = [
            Problem(frame.at[i, "where"], frame.at[i, "file"], reason)
            for i, reason in outcome.errors
        ]
        problems += failed
        if not skip:
            raise_problems(problems, candidates.origin)
        everything = len(outcome.kept) == len(frame)  # the usual case: no copy of the frame
        kept = frame if everything else frame.iloc[outcome.kept].reset_index(drop=True)
        check_structure(kept, params, candidates.origin)
        pixels = _compact(staging / PIXELS_FILE, pixels, outcome.kept)
        classes = list(params.classes) if params.classes else natural_sorted(kept["label"])
        manifest = _manifest(kept, outcome.ids, candidates)
        validate_store(manifest, pixels, classes, PIXEL_MAX, where=str(target))
        write_manifest_and_metadata(
            staging,
            manifest,
            pixels,
            classes,
            PIXEL_MAX,
            ImagesMetadata,
            source=candidates.source,
            resize=params.resize,
        )
        del pixels  # unmap before the directory is renamed into place
    return IngestResult(manifest, classes, problems_frame(problems), workers)


def check_structure(
    frame: pd.DataFrame, params: IngestParams, origin: str, problems: Sequence[Problem] = ()
) -> None:
    """Problems of the data set as a whole: these fail whatever `on_bad_input` says.

    `problems`: per-file problems found so far, listed in the same error (under `fail`), so
    the user sees everything wrong with the input in one run.
    """
    message = _structure_problem(frame, params, origin)
    if message is None:
        return
    if problems:
        message += "\n" + problems_message(problems, origin)
    raise BadInputError(message)


def _structure_problem(frame: pd.DataFrame, params: IngestParams, origin: str) -> str | None:
    if frame.empty:
        return (
            f"{origin}: no usable images; a folder must look like <root>/<domain>/<class>/<file>, "
            "a manifest needs rows with path and label"
        )
    labels = natural_sorted(frame["label"])
    if len(labels) < 2:
        return (
            f"{origin}: only one class ({labels[0]!r}) has images; a classifier needs at least "
            "2 classes: add a class folder (or manifest rows with another label)"
        )
    if params.domains:
        present = sorted(frame["domain"].unique())
        absent = [domain for domain in params.domains if domain not in present]
        if absent:
            return (
                f"{origin}: domain(s) {absent} named in ingest.domains have no images; "
                f"domains present: {present}"
            )
    return None


def natural_sorted(labels: pd.Series | list[str]) -> list[str]:
    """Distinct labels with digit runs compared as numbers ("2" before "10")."""

    def key(label: str) -> list[int | str]:
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", label)]

    distinct = labels.unique() if isinstance(labels, pd.Series) else set(labels)  # no per-row loop
    return sorted(distinct, key=key)


def _check_labels(
    frame: pd.DataFrame, classes: list[str] | None
) -> tuple[pd.DataFrame, list[Problem]]:
    if classes is None:
        return frame, []
    outside = ~frame["label"].isin(classes)
    problems = [
        Problem(
            row.where,
            row.file,
            f"label {row.label!r} is not in ingest.classes; add it there or fix the label",
        )
        for row in frame[outside].itertuples()
    ]
    return frame[~outside], problems


def _manifest(kept: pd.DataFrame, ids: list[str], candidates: Candidates) -> pd.DataFrame:
    manifest = pd.DataFrame(
        {
            "id": ids,
            "source": candidates.source,
            "domain": kept["domain"].astype(str),
            "label": kept["label"].astype(str),
            "origin": "real",
            "tags": kept["tags"],
        }
    )
    extras = kept[candidates.extra_columns].reset_index(drop=True)
    return pd.concat([manifest[MANIFEST_COLUMNS], extras], axis=1)


def _compact(path: Path, pixels: np.memmap, kept: list[int]) -> np.ndarray:
    """Drop the rows of files that failed (skip policy), block by block."""
    if len(kept) == len(pixels):  # no flush: unmapping writes back; msync would wait on disk
        return pixels
    compact_path = path.with_name(f"compact.{path.name}")
    compact = np.lib.format.open_memmap(
        compact_path, mode="w+", dtype=np.uint8, shape=(len(kept), *pixels.shape[1:])
    )
    rows = np.asarray(kept, dtype=np.int64)
    block = max(1, COPY_BYTES // max(1, int(np.prod(pixels.shape[1:]))))
    for start in range(0, len(rows), block):
        compact[start : start + block] = pixels[rows[start : start + block]]
    del pixels
    os.replace(compact_path, path)
    return compact
