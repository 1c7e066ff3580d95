"""`traindev ingest`: the target domain's real examples into the data contract."""

from __future__ import annotations

from traindev import paths
from traindev.config import IngestParams
from traindev.data.sources.sklearn_digits import (
    DIGIT_CLASSES,
    DIGITS_PIXEL_MAX,
    load_sklearn_digits,
)
from traindev.data.store import write_store


def run(params: IngestParams) -> str:
    manifest, pixels = load_sklearn_digits(params.domain)
    write_store(
        paths.INGESTED,
        manifest,
        pixels,
        DIGIT_CLASSES,
        DIGITS_PIXEL_MAX,
        extra_metadata={"source": params.source, "domain": params.domain},
    )
    return f"ingested {len(manifest)} images of domain {params.domain!r} into {paths.INGESTED}"
