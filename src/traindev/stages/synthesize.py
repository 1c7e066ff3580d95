"""`traindev synthesize`: the larger source domain, digits rendered from fonts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from traindev import paths
from traindev.config import SynthesizeParams
from traindev.data.sources.sklearn_digits import DIGIT_CLASSES, DIGITS_PIXEL_MAX
from traindev.data.store import MANIFEST_COLUMNS, content_ids, write_store
from traindev.data.synthesis.fonts import synthesize_font_digits


def run(params: SynthesizeParams) -> str:
    if params.count == 0:
        return write_empty_store(params)
    digits = synthesize_font_digits(params)
    manifest = pd.DataFrame(
        {
            "id": content_ids(digits.pixels),
            "source": "fonts",
            "domain": params.domain,
            "label": digits.labels,
            "origin": "synthetic",
            "tags": digits.tags,
        }
    )
    write_store(
        paths.SYNTHESIZED,
        manifest,
        digits.pixels,
        DIGIT_CLASSES,
        DIGITS_PIXEL_MAX,
        extra_metadata={"domain": params.domain, "fonts": list(params.fonts)},
    )
    return (
        f"synthesized {len(manifest)} images of domain {params.domain!r} into {paths.SYNTHESIZED}"
    )


def write_empty_store(params: SynthesizeParams) -> str:
    """`count: 0`: an empty store, so the DVC graph stays the same and `split` skips it."""
    manifest = pd.DataFrame({column: pd.Series(dtype=str) for column in MANIFEST_COLUMNS})
    pixels = np.zeros((0, 8, 8, 1), dtype=np.uint8)
    write_store(
        paths.SYNTHESIZED,
        manifest,
        pixels,
        DIGIT_CLASSES,
        DIGITS_PIXEL_MAX,
        extra_metadata={"domain": params.domain, "fonts": []},
    )
    return f"synthesize.count is 0: no synthetic images ({paths.SYNTHESIZED} is empty)"
