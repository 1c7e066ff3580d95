"""`traindev synthesize`: the larger source domain, digits rendered from fonts."""

from __future__ import annotations

import pandas as pd

from traindev import paths
from traindev.config import SynthesizeParams
from traindev.data.sources.sklearn_digits import DIGIT_CLASSES, DIGITS_PIXEL_MAX
from traindev.data.store import content_ids, write_store
from traindev.data.synthesis.fonts import synthesize_font_digits


def run(params: SynthesizeParams) -> str:
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
