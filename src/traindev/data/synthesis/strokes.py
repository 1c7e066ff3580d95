"""Digits drawn with a pen along skeleton templates, reduced like optdigits.

Fonts are printed shapes: however they are warped, a font's 4 stays closed and its 1 has a
serif no writer draws. The optdigits writers drew each digit in a few recognisable ways (a 1
with or without flag and base, an open or closed 4, a 7 with or without a bar), with a
thick pen, a slant of their own and a box the scanner's normalization then filled. So each
digit here has a few skeleton templates, control points in a unit box (x right, y down),
and each image draws a writer's style: slant, aspect, pen (a width in canvas pixels, or
fitted to ink a share of the canvas, as optdigits' digits all carry about the same ink),
point jitter, curvature (a cardinal spline's tangent scale: 1 through the points smoothly,
0 straight segments), size and position. The curve is drawn supersampled with a round pen, averaged
down to the canvas, thresholded, optionally warped elastically, and block-counted by
``reduce_to_ink_counts``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw

from traindev.config import ParamsError, StrokesParams, SynthesizeParams
from traindev.data.synthesis.distortions import elastic_warp
from traindev.data.synthesis.fonts import (
    DIGITS,
    SynthesizedDigits,
    inclusive_ints,
    reduce_to_ink_counts,
    rounded_uniform,
    synthesize_font_digits,
)

# One stroke: ("open" | "closed", control points). A template: its strokes, pen lifted
# between them. Corners that stay sharp whatever the curvature are stroke ends.
Stroke = tuple[str, tuple[tuple[float, float], ...]]

_OVAL = (
    (0.5, 0.0),
    (0.12, 0.2),
    (0.05, 0.55),
    (0.25, 0.95),
    (0.6, 1.0),
    (0.93, 0.7),
    (0.92, 0.3),
    (0.7, 0.03),
)

# fmt: off
TEMPLATES: dict[str, dict[str, tuple[Stroke, ...]]] = {
    "0": {
        "oval": (("closed", _OVAL),),
        "narrow": (
            ("closed", ((0.5, 0.0), (0.2, 0.25), (0.2, 0.75), (0.5, 1.0), (0.8, 0.75),
                        (0.8, 0.25))),
        ),
        "overlap": (
            ("open", ((0.7, 0.1), (0.4, 0.0), (0.1, 0.35), (0.15, 0.85), (0.5, 1.0),
                      (0.9, 0.65), (0.85, 0.15), (0.45, 0.05))),
        ),
    },
    "1": {
        "stick": (("open", ((0.5, 0.0), (0.5, 1.0))),),
        "flag": (("open", ((0.2, 0.3), (0.6, 0.0))), ("open", ((0.6, 0.0), (0.6, 1.0)))),
        "long_flag": (("open", ((0.05, 0.45), (0.6, 0.0))), ("open", ((0.6, 0.0), (0.55, 1.0)))),
        "flag_base": (
            ("open", ((0.25, 0.25), (0.55, 0.0))),
            ("open", ((0.55, 0.0), (0.55, 1.0))),
            ("open", ((0.15, 1.0), (0.95, 1.0))),
        ),
    },
    "2": {
        "curved": (
            ("open", ((0.1, 0.3), (0.45, 0.0), (0.85, 0.2), (0.6, 0.6), (0.05, 1.0))),
            ("open", ((0.05, 1.0), (0.95, 1.0))),
        ),
        "looped": (
            ("open", ((0.1, 0.25), (0.5, 0.0), (0.85, 0.25), (0.55, 0.65), (0.15, 0.95),
                      (0.05, 0.8), (0.3, 0.85), (0.95, 1.0))),
        ),
        "angular": (
            ("open", ((0.05, 0.2), (0.4, 0.0), (0.85, 0.15), (0.9, 0.35))),
            ("open", ((0.9, 0.35), (0.05, 1.0))),
            ("open", ((0.05, 1.0), (0.95, 0.97))),
        ),
    },
    "3": {
        "round": (
            ("open", ((0.1, 0.15), (0.5, 0.0), (0.85, 0.2), (0.4, 0.47))),
            ("open", ((0.4, 0.47), (0.9, 0.7), (0.55, 1.0), (0.05, 0.85))),
        ),
        "flat_top": (
            ("open", ((0.1, 0.0), (0.9, 0.0))),
            ("open", ((0.9, 0.0), (0.4, 0.4))),
            ("open", ((0.4, 0.4), (0.9, 0.65), (0.6, 1.0), (0.05, 0.85))),
        ),
    },
    "4": {
        "open": (
            ("open", ((0.45, 0.0), (0.05, 0.65))),
            ("open", ((0.05, 0.65), (1.0, 0.65))),
            ("open", ((0.7, 0.25), (0.7, 1.0))),
        ),
        "closed": (
            ("open", ((0.7, 1.0), (0.7, 0.0))),
            ("open", ((0.7, 0.0), (0.05, 0.65))),
            ("open", ((0.05, 0.65), (1.0, 0.65))),
        ),
        "open_top": (
            ("open", ((0.15, 0.0), (0.1, 0.6))),
            ("open", ((0.1, 0.6), (1.0, 0.6))),
            ("open", ((0.75, 0.0), (0.75, 1.0))),
        ),
    },
    "5": {
        "one_stroke": (
            ("open", ((0.85, 0.0), (0.2, 0.02))),
            ("open", ((0.2, 0.02), (0.15, 0.45))),
            ("open", ((0.15, 0.45), (0.55, 0.38), (0.9, 0.65), (0.6, 1.0), (0.05, 0.9))),
        ),
        "two_strokes": (
            ("open", ((0.25, 0.0), (0.15, 0.45), (0.55, 0.38), (0.9, 0.65), (0.6, 1.0),
                      (0.05, 0.9))),
            ("open", ((0.25, 0.0), (0.9, 0.0))),
        ),
    },
    "6": {
        "round": (
            ("open", ((0.8, 0.05), (0.4, 0.15), (0.1, 0.6), (0.3, 1.0), (0.75, 0.95),
                      (0.85, 0.65), (0.5, 0.5), (0.15, 0.7))),
        ),
        "straight": (
            ("open", ((0.6, 0.0), (0.15, 0.6), (0.3, 1.0), (0.75, 0.95), (0.85, 0.65),
                      (0.5, 0.5), (0.15, 0.7))),
        ),
    },
    "7": {
        "plain": (("open", ((0.05, 0.0), (0.95, 0.0))), ("open", ((0.95, 0.0), (0.35, 1.0)))),
        "bar": (
            ("open", ((0.05, 0.0), (0.95, 0.0))),
            ("open", ((0.95, 0.0), (0.4, 1.0))),
            ("open", ((0.3, 0.5), (0.9, 0.5))),
        ),
        "curved": (
            ("open", ((0.05, 0.05), (0.95, 0.0))),
            ("open", ((0.95, 0.0), (0.6, 0.45), (0.45, 1.0))),
        ),
    },
    "8": {
        "figure": (
            ("closed", ((0.5, 0.47), (0.85, 0.2), (0.5, 0.0), (0.15, 0.2), (0.5, 0.47),
                        (0.9, 0.75), (0.5, 1.0), (0.1, 0.75))),
        ),
        "two_loops": (
            ("closed", ((0.5, 0.0), (0.2, 0.22), (0.5, 0.45), (0.8, 0.22))),
            ("closed", ((0.5, 0.45), (0.1, 0.72), (0.5, 1.0), (0.9, 0.72))),
        ),
    },
    "9": {
        "round": (
            ("closed", ((0.85, 0.2), (0.5, 0.0), (0.1, 0.25), (0.45, 0.5), (0.85, 0.3))),
            ("open", ((0.85, 0.2), (0.8, 0.65), (0.55, 1.0), (0.15, 0.9))),
        ),
        "straight": (
            ("closed", ((0.85, 0.2), (0.5, 0.0), (0.1, 0.25), (0.45, 0.5), (0.85, 0.3))),
            ("open", ((0.85, 0.2), (0.8, 1.0))),
        ),
        "angular": (
            ("open", ((0.85, 0.45), (0.1, 0.45), (0.15, 0.0), (0.85, 0.0))),
            ("open", ((0.85, 0.0), (0.85, 1.0))),
        ),
    },
}
# fmt: on

# optdigits' writers put as much ink in a 1 as in any other digit (about 310 of the 1,024
# pixels for every class), so a 1's pen_width is this much heavier than the style's draw
# (with ink_share on, the fitted pen does this for every digit).
PEN_SCALE = {"1": 1.6}

_SUPERSAMPLE = 4  # drawn at 4x the canvas, then each 4x4 block averaged: smooth edges
_SAMPLES_PER_SPAN = 12


def template_names(digit: str) -> list[str]:
    """The template names of ``digit``, in the fixed order they are drawn from."""
    return list(TEMPLATES[digit])


@dataclass(frozen=True)
class WriterStyle:
    """One image's writer: every value in canvas pixels or degrees, as the params declare."""

    template: str
    height: float = 30.0  # ink height, canvas pixels (optdigits filled the 32-pixel box)
    aspect: float = 0.75  # skeleton width / height, before the slant
    slant: float = 0.0  # degrees, + leans the top right
    rotation: float = 0.0  # degrees, counter-clockwise
    pen_width: float = 3.0  # canvas pixels
    ink_share: float = 0.0  # > 0: pick the pen that inks this share of the canvas instead
    jitter: float = 0.0  # standard deviation of each control point's shift, share of height
    curvature: float = 1.0  # 1: smooth spline through the points; 0: straight segments
    elastic_alpha: float = 0.0  # largest elastic shift on top, canvas pixels
    elastic_sigma: float = 3.0
    offset: tuple[int, int] = (0, 0)  # (dx, dy) of the ink box's centre, canvas pixels
    seed: tuple[int, ...] = (0,)  # the image's random fields (jitter, elastic)


def _cardinal(points: np.ndarray, closed: bool, curvature: float) -> np.ndarray:
    """A cardinal spline through ``points``; ``curvature`` scales its tangents (0: polyline)."""
    if len(points) < 2:
        return points
    if closed:
        ext = np.vstack([points[-1:], points, points[:2]])
    else:
        ext = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0.0, 1.0, _SAMPLES_PER_SPAN, endpoint=False)[:, None]
    h00, h10 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t
    h01, h11 = -2 * t**3 + 3 * t**2, t**3 - t**2
    spans = len(points) if closed else len(points) - 1
    out = []
    for i in range(spans):
        p0, p1, p2, p3 = ext[i], ext[i + 1], ext[i + 2], ext[i + 3]
        m1, m2 = curvature * (p2 - p0) / 2, curvature * (p3 - p1) / 2
        out.append(h00 * p1 + h10 * m1 + h01 * p2 + h11 * m2)
    out.append(ext[spans + 1 : spans + 2])
    return np.vstack(out)


def _skeleton(
    digit: str, style: WriterStyle, rng: np.random.Generator
) -> tuple[list[np.ndarray], np.ndarray]:
    """The template's curves, jittered, stretched, slanted and rotated, centred on 0.

    Returns them in unit-box units with their joint extent (width, height), for the caller
    to scale to the ink height it wants.
    """
    strokes = TEMPLATES[digit][style.template]
    # One shift per distinct control point, so strokes that meet at a corner still meet.
    distinct = sorted({p for _, points in strokes for p in points})
    shifts = dict(
        zip(distinct, rng.normal(0.0, style.jitter, size=(len(distinct), 2)), strict=True)
    )
    curves = []
    for kind, points in strokes:
        pts = np.array([np.array(p) + shifts[p] for p in points], dtype=float)
        curves.append(_cardinal(pts, kind == "closed", style.curvature))
    allpts = np.vstack(curves)
    centre = (allpts.min(axis=0) + allpts.max(axis=0)) / 2
    k = math.tan(math.radians(style.slant))
    angle = math.radians(style.rotation)
    cos, sin = math.cos(angle), math.sin(angle)
    placed = []
    for curve in curves:
        x = (curve[:, 0] - centre[0]) * style.aspect
        y = curve[:, 1] - centre[1]
        x = x - k * y  # y grows downwards: the top (y < 0) moves right for a + slant
        x, y = cos * x + sin * y, -sin * x + cos * y
        placed.append(np.column_stack([x, y]))
    allpts = np.vstack(placed)
    low, high = allpts.min(axis=0), allpts.max(axis=0)
    return [curve - (low + high) / 2 for curve in placed], high - low


def _draw(
    curves: list[np.ndarray], extent: np.ndarray, pen: float, style: WriterStyle, canvas: int
) -> np.ndarray:
    """The curves drawn with a round pen of ``pen`` canvas pixels: grey (canvas, canvas)."""
    # The ink box is the centre line's box grown by the pen: scale the centre line so the ink
    # height is ``height``, less when a wide, slanted digit would not fit the canvas width.
    usable = max(style.height - pen, 1.0)
    scale = usable / max(extent[1], 1e-6)
    if extent[0] * scale > canvas - pen:
        scale = max(canvas - pen, 1.0) / max(extent[0], 1e-6)
    side = canvas * _SUPERSAMPLE
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image)
    radius = pen * _SUPERSAMPLE / 2
    centre = np.array([canvas / 2 + style.offset[0], canvas / 2 + style.offset[1]])
    for curve in curves:
        pts = (curve * scale + centre) * _SUPERSAMPLE
        coords = [tuple(p) for p in pts.tolist()]
        draw.line(coords, fill=255, width=max(1, round(2 * radius)))
        for x, y in coords:  # a round pen: round joints and ends
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(image.reduce(_SUPERSAMPLE), dtype=np.float32)


def _ink(grey: np.ndarray) -> float:
    return float((grey >= 128).mean())


def fit_pen(digit: str, style: WriterStyle, canvas: int = 32) -> float:
    """The pen width (canvas pixels, 0.1 steps) whose ink covers ``style.ink_share`` of the
    canvas: two secant steps from ``style.pen_width``, ink growing about linearly with the pen.

    optdigits' digits carry a near-constant amount of ink (a quarter to a third of the 32x32
    box for every class), so a target share matches them better than a fixed pen does.
    """
    curves, extent = _skeleton(digit, style, np.random.default_rng(list(style.seed)))
    low, high = 0.5, canvas / 3

    def ink(pen: float) -> float:
        return _ink(_draw(curves, extent, pen, style, canvas))

    p0 = min(max(style.pen_width, low), high)
    i0 = ink(p0)
    p1 = min(max(p0 * style.ink_share / max(i0, 1e-3), low), high)
    i1 = ink(p1)
    pen = p1
    if abs(i1 - i0) > 1e-6:
        pen = min(max(p1 + (style.ink_share - i1) * (p1 - p0) / (i1 - i0), low), high)
    return round(pen, 1)


def render_stroke_digit(digit: str, style: WriterStyle, canvas: int = 32) -> np.ndarray:
    """One binary (canvas, canvas) bool bitmap of ``digit`` drawn in ``style``.

    The pen is ``style.pen_width``, or, when ``style.ink_share`` is set, the width that
    inks that share of the canvas (``fit_pen``).
    """
    pen = fit_pen(digit, style, canvas) if style.ink_share else style.pen_width
    rng = np.random.default_rng(list(style.seed))
    curves, extent = _skeleton(digit, style, rng)
    grey = _draw(curves, extent, max(pen, 0.5), style, canvas)
    if style.elastic_alpha:
        grey = elastic_warp(grey, style.elastic_alpha, style.elastic_sigma, rng)
    return grey >= 128


# --------------------------------------------------------------------------- dataset


def draw_styles(params: StrokesParams, digits: np.ndarray, seed: int) -> list[WriterStyle]:
    """One writer style per digit (indices 0-9), every value drawn up front.

    The draws come from ``default_rng([seed, 1])``, in a fixed order, so adding a knob at the
    end changes no earlier draw; image i's jitter and warp from ``[seed, 2, i]``.
    """
    rng = np.random.default_rng([seed, 1])  # its own stream: the font draws stay as they were
    n = len(digits)
    picks = rng.random(n)
    heights = rounded_uniform(rng, params.height, n, 1)
    aspects = rounded_uniform(rng, params.aspect, n, 2)
    slants = rounded_uniform(rng, params.slant_degrees, n, 1)
    rotations = rounded_uniform(rng, params.rotation_degrees, n, 1)
    pens = rounded_uniform(rng, params.pen_width, n, 1)
    jitters = rounded_uniform(rng, params.jitter, n, 3)
    curvatures = rounded_uniform(rng, params.curvature, n, 2)
    elastic = rounded_uniform(rng, params.elastic_alpha, n, 2)
    inks = rounded_uniform(rng, params.ink_share, n, 3)
    dx = inclusive_ints(rng, params.offset, n)
    dy = inclusive_ints(rng, params.offset, n)
    styles = []
    for i, d in enumerate(digits):
        names = template_names(str(d))
        styles.append(
            WriterStyle(
                template=names[min(int(picks[i] * len(names)), len(names) - 1)],
                height=float(heights[i]),
                aspect=float(aspects[i]),
                slant=float(slants[i]),
                rotation=float(rotations[i]),
                pen_width=round(float(pens[i]) * PEN_SCALE.get(str(d), 1.0), 1),
                ink_share=float(inks[i]),
                jitter=float(jitters[i]),
                curvature=float(curvatures[i]),
                elastic_alpha=float(elastic[i]),
                elastic_sigma=params.elastic_sigma,
                offset=(int(dx[i]), int(dy[i])),
                seed=(seed, 2, i),
            )
        )
    return styles


def style_tags(digit: str, style: WriterStyle) -> list[str]:
    """The tags of one stroke image: its template (a diversity source) and its style values."""
    return [
        "source=strokes",
        f"template={digit}_{style.template}",
        f"height={style.height:g}",
        f"aspect={style.aspect:g}",
        f"slant={style.slant:g}",
        f"rotation={style.rotation:g}",
        f"pen={style.pen_width:g}",
        f"jitter={style.jitter:g}",
        f"curvature={style.curvature:g}",
        f"elastic={style.elastic_alpha:g}",
        f"offset={style.offset[0]},{style.offset[1]}",
    ]


def synthesize_stroke_digits(params: SynthesizeParams, count: int) -> SynthesizedDigits:
    """``count`` pen-drawn digits, balanced over the classes, bit-identical for the same params.

    Draws come from ``default_rng([params.seed, 1])`` (styles) and ``[params.seed, 2, i]``
    (image i's jitter and warp), streams the font path never uses, so mixing strokes in
    leaves every font image as it was.
    """
    if (params.canvas // 8) ** 2 > np.iinfo(np.uint8).max:
        raise ParamsError(
            f"synthesize.canvas: at most 120 so 8x8 block counts fit in uint8, got {params.canvas}"
        )
    digits = np.random.default_rng([params.seed, 0]).permutation(np.arange(count) % len(DIGITS))
    styles = draw_styles(params.strokes, digits, params.seed)
    pixels = np.empty((count, 8, 8, 1), dtype=np.uint8)
    labels: list[str] = []
    tags: list[list[str]] = []
    for i, (index, style) in enumerate(zip(digits, styles, strict=True)):
        digit = DIGITS[index]
        target = style.ink_share
        if target:  # fit the pen once, so the tag states the pen actually used
            style = replace(style, pen_width=fit_pen(digit, style, params.canvas), ink_share=0.0)
        bitmap = render_stroke_digit(digit, style, params.canvas)
        pixels[i, :, :, 0] = reduce_to_ink_counts(bitmap)
        labels.append(digit)
        tags.append(style_tags(digit, style) + ([f"ink_share={target:g}"] if target else []))
    return SynthesizedDigits(pixels=pixels, labels=labels, tags=tags)


def stroke_count(params: SynthesizeParams) -> int:
    """How many of ``params.count`` images are pen-drawn: all for source strokes, else share."""
    if params.source == "strokes":
        return params.count
    return round(params.count * params.strokes.share)


def synthesize_digits(params: SynthesizeParams) -> SynthesizedDigits:
    """The digit set `source: fonts | strokes` asks for: font digits, then pen-drawn ones.

    With ``strokes.share`` 0 this is exactly ``synthesize_font_digits(params)``.
    """
    n_strokes = stroke_count(params)
    parts = []
    if params.count - n_strokes:
        parts.append(
            synthesize_font_digits(params.model_copy(update={"count": params.count - n_strokes}))
        )
    if n_strokes:
        parts.append(synthesize_stroke_digits(params, n_strokes))
    if len(parts) == 1:
        return parts[0]
    return SynthesizedDigits(
        pixels=np.concatenate([part.pixels for part in parts]),
        labels=[label for part in parts for label in part.labels],
        tags=[row for part in parts for row in part.tags],
    )
