"""`traindev ingest`: the target domain's real examples into the data contract.

`ingest.source` picks where they come from: the embedded scikit-learn digits (the
default), an image folder or a manifest of the user's own images. Beside the store, in
reports/ingest/, go what was skipped (`skipped.csv`), the exact duplicates found
(`duplicates.csv`) and their counts (`summary.json`, a DVC metric).
"""

from __future__ import annotations

import gc
import logging
import shutil
from pathlib import Path

import pandas as pd

from traindev import paths
from traindev.atomic import atomic_file
from traindev.config import IngestParams
from traindev.data.sources.duplicates import duplicate_counts, find_duplicates
from traindev.data.sources.folder import scan_folder
from traindev.data.sources.images import ingest_images
from traindev.data.sources.manifest import read_manifest
from traindev.data.sources.parallel import decoder_pool, planned_workers
from traindev.data.sources.problems import problems_frame
from traindev.data.store import write_store
from traindev.records import write_record
from traindev.records.ingest import IngestSummary
from traindev.records.store import DigitsMetadata

log = logging.getLogger(__name__)


def run(params: IngestParams, target: Path | None = None, report_dir: Path | None = None) -> str:
    # What exists now (the imported libraries, ~80,000 objects) is never garbage: frozen, the
    # cyclic GC stops re-walking it while the scan allocates rows (a 40 ms pause at random),
    # and the forked decoders do not copy its pages by touching it (the CPython docs' advice
    # before fork).
    gc.freeze()
    target = Path(target or paths.INGESTED)
    report_dir = Path(report_dir or paths.REPORTS / "ingest")
    clear_interrupted(target)
    if params.source == "sklearn_digits":
        # Imported here: scikit-learn costs a second that user images need not pay.
        from traindev.data.sources.sklearn_digits import (
            DIGIT_CLASSES,
            DIGITS_PIXEL_MAX,
            load_sklearn_digits,
        )

        manifest, pixels = load_sklearn_digits(params.domain)
        write_store(
            target,
            manifest,
            pixels,
            DIGIT_CLASSES,
            DIGITS_PIXEL_MAX,
            DigitsMetadata,
            source=params.source,
            domain=params.domain,
        )
        skipped, shape, workers = problems_frame([]), list(pixels.shape[1:]), 1
    else:
        with decoder_pool(planned_workers(params.workers)) as pool:  # starts while we scan
            candidates = (
                scan_folder(Path(params.root))
                if params.source == "folder"
                else read_manifest(
                    Path(params.manifest),
                    Path(params.root) if params.root else None,
                    params.domain,
                )
            )
            result = ingest_images(candidates, params, target, pool)
        manifest, skipped, workers = result.manifest, result.skipped, result.workers
        shape = [*params.image_size, params.channels]

    duplicates = find_duplicates(manifest)
    counts = duplicate_counts(duplicates)
    with atomic_file(report_dir / "skipped.csv") as handle:
        skipped.to_csv(handle, index=False)
    with atomic_file(report_dir / "duplicates.csv") as handle:
        duplicates.to_csv(handle, index=False)
    write_record(
        report_dir / "summary.json",
        IngestSummary(
            source=params.source,
            images=len(manifest),
            domains=manifest["domain"].value_counts().sort_index().to_dict(),
            classes=int(manifest["label"].nunique()),
            shape=shape,
            skipped=len(skipped),
            duplicates=counts,
        ),
    )
    if len(skipped):
        log.warning(
            "ingest: skipped %d bad input(s) (ingest.on_bad_input: skip); see %s",
            len(skipped),
            report_dir / "skipped.csv",
        )
    return _message(params, manifest, target, report_dir, len(skipped), counts, workers)


def clear_interrupted(target: Path) -> None:
    """Remove staging directories a hard-killed earlier run left beside `target`."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    for pattern in (f".{target.name}.*.tmp", f".{target.name}.old-*"):
        for leftover in target.parent.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)


def _message(
    params: IngestParams,
    manifest: pd.DataFrame,
    target: Path,
    report_dir: Path,
    skipped: int,
    duplicates: dict[str, int],
    workers: int,
) -> str:
    counts = manifest["domain"].value_counts().sort_index()
    domains = ", ".join(f"{name} {n}" for name, n in counts.items())
    message = f"ingested {len(manifest)} images ({domains}) into {target}"
    if params.source != "sklearn_digits":
        message += f" with {workers} process(es)"
    if skipped:
        message += f"; skipped {skipped} ({report_dir / 'skipped.csv'})"
    found = duplicates["within_domain"] + duplicates["across_domains"]
    if found:
        message += (
            f"; {found} exact duplicate(s): {duplicates['within_domain']} within a domain, "
            f"{duplicates['across_domains']} across domains ({report_dir / 'duplicates.csv'})"
        )
    return message
