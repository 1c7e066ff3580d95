"""The font-synthesis settings the rendering tests are written against: printed glyphs with
every handwriting knob off. The project's defaults (pen-drawn strokes, tuned font ranges) are
for the pipeline; these tests pin how a font is rendered, so they name what they mean."""

from __future__ import annotations

from typing import Any

from traindev.config import SynthesizeParams

PRINTED_FONTS: dict[str, Any] = {
    "source": "fonts",
    "font_size": (28, 32),
    "rotation_degrees": (-10.0, 10.0),
    "stroke_width": (0, 2),
    "ink_threshold": 128,
    "slant_degrees": (0.0, 0.0),
    "stroke_variation": (0.0, 0.0),
    "elastic_alpha": (0.0, 0.0),
    "elastic_sigma": 4.0,
    "width_scale": (1.0, 1.0),
}


def printed_fonts(**update: Any) -> SynthesizeParams:
    """Printed-font synthesis params, with `update` on top."""
    return SynthesizeParams(**(PRINTED_FONTS | update))
