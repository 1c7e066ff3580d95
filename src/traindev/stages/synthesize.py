"""`traindev synthesize`: the larger source domain, and how diverse its sources are.

`source: fonts` renders digits from fonts (with the handwriting knobs), mixing in
`strokes.share` of pen-drawn digits; `source: strokes` draws them all with the pen;
`source: overlay` composites clean images onto noise-source backgrounds. Either way the
stage also writes reports/synthesis/diversity.json: the sources used (fonts, stroke
templates, backgrounds), their shares, and the narrow-pool warning, which is repeated in
the stage's output line.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from traindev import paths
from traindev.config import SynthesizeParams
from traindev.data.sources.sklearn_digits import DIGIT_CLASSES, DIGITS_PIXEL_MAX
from traindev.data.store import content_ids, empty_manifest, write_store
from traindev.data.synthesis.diversity import (
    FONT_POOLS,
    OVERLAY_POOLS,
    STROKE_POOLS,
    diversity_line,
    diversity_report,
)
from traindev.records import write_record
from traindev.records.store import OverlayMetadata, StoreMetadata, SynthesizedMetadata
from traindev.records.synthesis import SynthesisDiversity

log = logging.getLogger(__name__)


def run(params: SynthesizeParams) -> str:
    if params.count == 0:
        return write_empty_store(params)
    if params.source == "overlay":
        from traindev.data.synthesis.overlay import synthesize_overlay

        made = synthesize_overlay(params)
        pixels, labels, tags = made.pixels, made.labels, made.tags
        classes, pixel_max, pools = made.classes, made.pixel_max, OVERLAY_POOLS
        kind: type[StoreMetadata] = OverlayMetadata
        facts: dict[str, object] = {"backgrounds": params.overlay.backgrounds}
    else:
        from traindev.data.synthesis.strokes import stroke_count, synthesize_digits

        digits = synthesize_digits(params)
        pixels, labels, tags = digits.pixels, digits.labels, digits.tags
        classes, pixel_max = DIGIT_CLASSES, DIGITS_PIXEL_MAX
        n_strokes = stroke_count(params)
        pools = {**(FONT_POOLS if n_strokes < params.count else {}), **STROKE_POOLS}
        kind = SynthesizedMetadata
        facts = {
            "fonts": list(params.fonts) if n_strokes < params.count else [],
            "strokes": n_strokes,
        }
    manifest = pd.DataFrame(
        {
            "id": content_ids(pixels),
            "source": [_row_source(row, params.source) for row in tags],
            "domain": params.domain,
            "label": labels,
            "origin": "synthetic",
            "tags": tags,
        }
    )
    write_store(
        paths.SYNTHESIZED,
        manifest,
        pixels,
        classes,
        pixel_max,
        kind,
        domain=params.domain,
        **facts,
    )
    recipe = params.source
    if params.source == "fonts" and params.strokes.share > 0:
        recipe = f"fonts + strokes ({params.strokes.share:.0%} pen-drawn)"
    report = diversity_report(tags, pools, params.diversity.min_effective_sources, recipe)
    line = write_diversity(report)
    return (
        f"synthesized {len(manifest)} images of domain {params.domain!r} into "
        f"{paths.SYNTHESIZED}; {line}"
    )


def _row_source(tags: list[str], source: str) -> str:
    """`strokes` for a pen-drawn image, `fonts` for a font one (a fonts set mixes both)."""
    if source == "overlay":
        return source
    return "strokes" if "source=strokes" in tags else "fonts"


def write_diversity(report: dict) -> str:
    """Write the diversity metric, log any narrow-pool warning, return the summary line."""
    write_record(paths.DIVERSITY, SynthesisDiversity.model_validate(report))
    for warning in report["warnings"]:
        log.warning("synthesize: %s", warning)
    return diversity_line(report)


def write_empty_store(params: SynthesizeParams) -> str:
    """`count: 0`: an empty store, so the DVC graph stays the same and `split` skips it."""
    pixels = np.zeros((0, 8, 8, 1), dtype=np.uint8)
    write_store(
        paths.SYNTHESIZED,
        empty_manifest(),
        pixels,
        DIGIT_CLASSES,
        DIGITS_PIXEL_MAX,
        SynthesizedMetadata,
        domain=params.domain,
        fonts=[],
        strokes=0,
    )
    write_diversity(diversity_report([], {}, params.diversity.min_effective_sources, "none"))
    return f"synthesize.count is 0: no synthetic images ({paths.SYNTHESIZED} is empty)"
