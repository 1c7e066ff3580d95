"""Font-rendered digits reduced exactly like scikit-learn's ``load_digits`` (UCI optdigits).

optdigits started from 32x32 binary bitmaps of size-normalized, centred handwriting and
counted the "on" pixels in each non-overlapping 4x4 block, giving 8x8 images of integers
0..16. Rendering font glyphs and applying the same reduction gives a second, differently
distributed domain of the same task: the train/dev mismatch this project studies.

Per image the pipeline is: draw the glyph (with a PIL stroke) on a roomy temporary canvas,
slant and rotate it, warp it (elastic / grid) and vary its stroke like a pen's pressure,
crop to its ink, scale so the ink's larger side is ``size`` canvas pixels, binarize at the
(jittered) ink threshold, centre the ink box in the canvas, shift it by the offset, then
block-count. The handwriting steps come before the size normalization, as in optdigits,
whose writers' slants and wobbles were there before the scanner normalized each digit.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from traindev.config import ParamsError, SynthesizeParams
from traindev.data.synthesis.distortions import elastic_warp, grid_warp, shear, thin, vary_stroke

DIGITS = "0123456789"
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Glyph names that carry no meaning (fonts without a named `post` table); trust the cmap then.
_ANONYMOUS_GLYPH = re.compile(r"(glyph|gid|g|cid|index)\d+|uni00\d\d|u00\d\d", re.IGNORECASE)
_FONT_SUFFIXES = (".ttf", ".otf")
# Point size at which each font's digits are measured once to turn pixel heights into sizes.
_REFERENCE_POINTS = 100

BUNDLED_FONT_DIR: Path = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@dataclass(frozen=True)
class SynthesizedDigits:
    """Synthesized examples in the layout the rest of the pipeline stores.

    ``pixels`` is uint8 (count, 8, 8, 1); for the default 32-pixel canvas values are 0..16,
    in general 0..(canvas // 8) ** 2. ``tags`` record the font and each distortion drawn so
    error analysis can slice mistakes by them.
    """

    pixels: np.ndarray
    labels: list[str]
    tags: list[list[str]]


# --------------------------------------------------------------------------- fonts


def _glyph_names(path: Path) -> list[str | None] | None:
    """Glyph names the cmap assigns to '0'..'9'; None when fontTools is unavailable.

    Raises OSError when the file is not a TrueType/OpenType font.
    """
    try:
        from fontTools.ttLib import TTFont, TTLibError
    except ImportError:  # pragma: no cover - fontTools ships with matplotlib
        return None
    try:
        with TTFont(path, lazy=True, fontNumber=0) as font:
            cmap = font.getBestCmap() or {}
    except (TTLibError, ValueError, KeyError, AssertionError) as exc:
        raise OSError(str(exc)) from exc
    return [cmap.get(ord(d)) for d in DIGITS]


def _names_are_digits(names: list[str | None]) -> bool:
    """True when every digit maps to its own glyph and named glyphs are digits, not symbols.

    The cmap alone is not enough: cmex10/cmsy10 map '0'..'9' to brackets and arrows, and
    LastResortHE maps all ten to one placeholder glyph.
    """
    if any(name is None for name in names) or len(set(names)) != len(DIGITS):
        return False
    return all(
        name.lower().startswith(word) or _ANONYMOUS_GLYPH.fullmatch(name)
        for name, word in zip(names, _DIGIT_WORDS, strict=True)
    )


def _render_reference(path: Path, digit: str) -> Image.Image:
    font = _font(str(path), _REFERENCE_POINTS)
    side = 3 * _REFERENCE_POINTS
    image = Image.new("L", (side, side), 0)
    ImageDraw.Draw(image).text((side / 2, side / 2), digit, fill=255, font=font, anchor="mm")
    return image


def _renders_distinct_digits(path: Path) -> bool:
    """Rendering check: every digit leaves ink and no two digits draw the same bitmap."""
    images = [_render_reference(path, d).tobytes() for d in DIGITS]
    blank = bytes(len(images[0]))
    return blank not in images and len(set(images)) == len(DIGITS)


@cache
def _font_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used to draw digits, or None when it can."""
    try:
        names = _glyph_names(path)
        if names is not None and not _names_are_digits(names):
            return "has no glyphs for all ten digits 0-9 (it maps them to symbols or nothing)"
        if not _renders_distinct_digits(path):
            return "does not draw ten distinct, non-empty digit glyphs"
    except OSError as exc:
        return f"could not be read as a TrueType/OpenType font ({exc})"
    return None


@cache
def _bundled_capable() -> tuple[str, ...]:
    candidates = sorted(p for p in BUNDLED_FONT_DIR.iterdir() if p.suffix in _FONT_SUFFIXES)
    return tuple(p.name for p in candidates if _font_problem(p) is None)


def digit_capable_fonts() -> list[str]:
    """Bundled font file names whose cmap maps 0-9 to ten distinct digit glyphs; sorted."""
    return list(_bundled_capable())


def _bundled_names() -> list[str]:
    return sorted(p.name for p in BUNDLED_FONT_DIR.iterdir() if p.suffix in _FONT_SUFFIXES)


def _unknown_font_error(entry: str) -> ParamsError:
    match = difflib.get_close_matches(entry, _bundled_names(), n=1, cutoff=0.6)
    hint = f" (did you mean {match[0]!r}?)" if match else ""
    return ParamsError(
        f"synthesize.fonts: unknown font {entry!r}{hint}: give a file name in matplotlib's "
        f"bundled font folder {BUNDLED_FONT_DIR} or an absolute path to a .ttf/.otf file; "
        f"bundled fonts that render all ten digits: {', '.join(digit_capable_fonts())}"
    )


def _resolve_one(entry: str) -> Path:
    candidate = Path(entry).expanduser()
    if candidate.is_absolute():
        path = candidate
    elif candidate.name == entry:
        path = BUNDLED_FONT_DIR / entry
    else:
        raise _unknown_font_error(entry)
    if not path.is_file():
        raise _unknown_font_error(entry)
    problem = _font_problem(path)
    if problem is not None:
        raise ParamsError(
            f"synthesize.fonts: font {entry!r} {problem}; bundled fonts that render all ten "
            f"digits: {', '.join(digit_capable_fonts())}"
        )
    return path


def resolve_fonts(names: list[str]) -> list[Path]:
    """Turn ``synthesize.fonts`` entries into font paths, failing early with a fix-it message.

    Each entry is a file name in matplotlib's bundled font folder or an absolute path. A font
    that cannot draw all ten digits is rejected here, before any rendering, since it would
    silently produce mislabelled examples.
    """
    if not names:
        raise ParamsError("synthesize.fonts: give at least one font")
    return [_resolve_one(name) for name in names]


# --------------------------------------------------------------------------- rendering


@cache
def _font(path: str, points: int) -> ImageFont.FreeTypeFont:
    """Loading a FreeType face is the costliest step; each (font, size) is loaded once.

    The BASIC layout engine keeps output identical whether or not libraqm is installed.
    """
    return ImageFont.truetype(path, points, layout_engine=ImageFont.Layout.BASIC)


@cache
def _ink_height_per_point(path: Path) -> float:
    """Median digit ink height per point size, to pick a point size for a pixel size.

    Rendering near the target size (rather than scaling a big render down) keeps the PIL
    stroke width in canvas pixels, as the parameter promises.
    """
    heights = []
    for digit in DIGITS:
        box = _render_reference(path, digit).getbbox()
        if box is not None:
            heights.append(box[3] - box[1])
    return float(np.median(heights)) / _REFERENCE_POINTS if heights else 1.0


def _draw_glyph(digit: str, font_path: Path, size: int, stroke: int) -> Image.Image:
    """The glyph in white on black, on a canvas large enough that nothing is clipped."""
    points = max(1, round(size / _ink_height_per_point(font_path)))
    font = _font(str(font_path), points)
    side = 2 * points + 2 * stroke + 8
    image = Image.new("L", (side, side), 0)
    ImageDraw.Draw(image).text(
        (side / 2, side / 2),
        digit,
        fill=255,
        font=font,
        anchor="mm",
        stroke_width=stroke,
        stroke_fill=255,
    )
    return image


def _normalize_size(glyph: Image.Image, size: int) -> Image.Image:
    """Crop to the ink and scale so its larger side is ``size``, as optdigits normalized."""
    box = glyph.getbbox()
    if box is None:
        raise ValueError("the font drew no ink for this digit")
    cropped = glyph.crop(box)
    scale = size / max(cropped.size)
    width = max(1, round(cropped.width * scale))
    height = max(1, round(cropped.height * scale))
    return cropped.resize((width, height), Image.Resampling.BILINEAR)


def _place(ink: np.ndarray, canvas: int, offset: tuple[int, int]) -> np.ndarray:
    """Centre the ink's bounding box in the canvas, shift by (dx, dy), clip at the edges."""
    out = np.zeros((canvas, canvas), dtype=bool)
    rows, cols = np.nonzero(ink)
    if rows.size == 0:
        return out
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = ink.shape
    top = (canvas - height) // 2 + offset[1]
    left = (canvas - width) // 2 + offset[0]
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + height, canvas), min(left + width, canvas)
    if r0 < r1 and c0 < c1:
        out[r0:r1, c0:c1] = ink[r0 - top : r1 - top, c0 - left : c1 - left]
    return out


@dataclass(frozen=True)
class Handwriting:
    """One image's values of the handwriting knobs; the defaults leave the glyph as drawn.

    Sizes are in pixels of the rendered glyph, which is drawn at about the target size, so
    they are canvas pixels too. ``seed`` seeds the image's random fields (warps, pressure).
    """

    slant: float = 0.0  # degrees, + leans right
    stroke_variation: float = 0.0  # the stroke's edge moves by up to this many pixels
    elastic_alpha: float = 0.0  # largest elastic shift, pixels
    elastic_sigma: float = 4.0
    grid_distortion: float = 0.0  # largest grid-node shift, pixels
    grid_cells: int = 4
    threshold_jitter: int = 0  # added to the ink threshold
    width_scale: float = 1.0  # horizontal stretch before size normalization; 1: the font's
    seed: tuple[int, ...] = (0,)

    @property
    def reshapes(self) -> bool:
        return bool(self.elastic_alpha or self.grid_distortion or self.stroke_variation)


PRINTED = Handwriting()


def _handwrite(glyph: Image.Image, style: Handwriting, ink_threshold: int) -> Image.Image:
    """Warp the glyph and vary its stroke on the roomy canvas, before size normalization."""
    rng = np.random.default_rng(list(style.seed))
    margin = math.ceil(style.elastic_alpha + style.grid_distortion + style.stroke_variation) + 1
    grey = np.pad(np.asarray(glyph, dtype=np.float32), margin)
    grey = elastic_warp(grey, style.elastic_alpha, style.elastic_sigma, rng)
    grey = grid_warp(grey, style.grid_distortion, style.grid_cells, rng)
    if style.stroke_variation:
        # The pressure field's smoothness: about a quarter of the glyph's ink height.
        sigma = max(glyph.size) / 8
        ink = vary_stroke(grey >= ink_threshold, style.stroke_variation, sigma, rng)
        grey = np.where(ink, 255.0, 0.0)
    return Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8), "L")


def render_digit(
    digit: str,
    font_path: Path,
    size: int,
    offset: tuple[int, int],
    rotation: float,
    stroke: int,
    canvas: int,
    ink_threshold: int,
    style: Handwriting = PRINTED,
) -> np.ndarray:
    """One binary (canvas, canvas) bool bitmap of ``digit``.

    ``size`` is the larger side of the ink box after rotation; ``offset`` is (dx, dy) in
    canvas pixels, +x right and +y down; ``rotation`` is in degrees, counter-clockwise;
    ``stroke`` is PIL's stroke width at the rendered size (negative: the stroke's edge moves
    that many pixels inwards, a finer pen); grey levels at or above
    ``ink_threshold`` (plus ``style.threshold_jitter``) count as ink; ``style`` holds the
    handwriting knobs (slant, warps, pen pressure).
    """
    threshold = ink_threshold + style.threshold_jitter
    glyph = _draw_glyph(digit, Path(font_path), size, max(stroke, 0))
    if stroke < 0:  # a finer pen than the font's
        ink = thin(np.asarray(glyph) >= threshold, -stroke)
        glyph = Image.fromarray(np.where(ink, 255, 0).astype(np.uint8), "L")
    if style.width_scale != 1.0:
        width = max(1, round(glyph.width * style.width_scale))
        glyph = glyph.resize((width, glyph.height), Image.Resampling.BICUBIC)
    glyph = shear(glyph, style.slant)
    if rotation:
        glyph = glyph.rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True)
    if style.reshapes:
        glyph = _handwrite(glyph, style, threshold)
    grey = np.asarray(_normalize_size(glyph, size))
    return _place(grey >= threshold, canvas, offset)


def reduce_to_ink_counts(bitmap: np.ndarray) -> np.ndarray:
    """(H, W) binary bitmap -> (8, 8) uint8 count of ink pixels per block.

    For a 32x32 bitmap the blocks are 4x4 and this is the optdigits reduction (0..16).
    """
    bitmap = np.asarray(bitmap)
    if bitmap.ndim != 2 or bitmap.shape[0] % 8 or bitmap.shape[1] % 8:
        raise ValueError(f"expected a 2-D bitmap with sides a multiple of 8, got {bitmap.shape}")
    block_h, block_w = bitmap.shape[0] // 8, bitmap.shape[1] // 8
    if block_h * block_w > np.iinfo(np.uint8).max:
        raise ValueError(
            f"blocks of {block_h}x{block_w} pixels can hold more ink than uint8 counts; "
            "use a canvas of at most 120 pixels"
        )
    blocks = (bitmap != 0).reshape(8, block_h, 8, block_w)
    return blocks.sum(axis=(1, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- dataset


@dataclass(frozen=True)
class _Draws:
    """Every random choice for a dataset, drawn up front in a fixed order for reproducibility."""

    digits: np.ndarray
    fonts: np.ndarray
    sizes: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    rotations: np.ndarray
    strokes: np.ndarray
    slants: np.ndarray
    stroke_variations: np.ndarray
    elastic: np.ndarray
    grid: np.ndarray
    threshold_jitter: np.ndarray
    width_scales: np.ndarray


def inclusive_ints(rng: np.random.Generator, bounds: tuple[int, int], n: int) -> np.ndarray:
    return rng.integers(bounds[0], bounds[1], size=n, endpoint=True)


def _draw(params: SynthesizeParams, n_fonts: int) -> _Draws:
    rng = np.random.default_rng(params.seed)
    n = params.count
    # Balanced classes and fonts: counts differ by at most one, order shuffled.
    digits = rng.permutation(np.arange(n) % len(DIGITS))
    fonts = rng.permutation(np.arange(n) % n_fonts)
    sizes = inclusive_ints(rng, params.font_size, n)
    dx = inclusive_ints(rng, params.offset, n)
    dy = inclusive_ints(rng, params.offset, n)
    low, high = params.rotation_degrees
    # Rounded before rendering so the tag states exactly the rotation that was applied.
    rotations = np.round(rng.uniform(low, high, size=n), 1) + 0.0
    strokes = inclusive_ints(rng, params.stroke_width, n)
    # The handwriting knobs are drawn after the rest, so adding them changed no earlier draw.
    slants = rounded_uniform(rng, params.slant_degrees, n, 1)
    stroke_variations = rounded_uniform(rng, params.stroke_variation, n, 2)
    elastic = rounded_uniform(rng, params.elastic_alpha, n, 2)
    grid = rounded_uniform(rng, params.grid_distortion, n, 2)
    jitter = inclusive_ints(rng, params.ink_threshold_jitter, n)
    width_scales = rounded_uniform(rng, params.width_scale, n, 2)
    return _Draws(
        digits,
        fonts,
        sizes,
        dx,
        dy,
        rotations,
        strokes,
        slants,
        stroke_variations,
        elastic,
        grid,
        jitter,
        width_scales,
    )


def rounded_uniform(
    rng: np.random.Generator, bounds: tuple[float, float], n: int, decimals: int
) -> np.ndarray:
    """Uniform draws rounded before use, so a tag states exactly the value applied."""
    return np.round(rng.uniform(bounds[0], bounds[1], size=n), decimals) + 0.0


def _knob_tags(params: SynthesizeParams, draws: _Draws, i: int) -> list[str]:
    """Tags for the handwriting knobs that are on (a range other than [0, 0])."""
    knobs = [
        ("slant", params.slant_degrees, f"{draws.slants[i]:g}"),
        ("stroke_var", params.stroke_variation, f"{draws.stroke_variations[i]:g}"),
        ("elastic", params.elastic_alpha, f"{draws.elastic[i]:g}"),
        ("grid", params.grid_distortion, f"{draws.grid[i]:g}"),
        (
            "threshold",
            params.ink_threshold_jitter,
            f"{params.ink_threshold + int(draws.threshold_jitter[i])}",
        ),
    ]
    tags = [f"{name}={value}" for name, bounds, value in knobs if tuple(bounds) != (0, 0)]
    if tuple(params.width_scale) != (1, 1):
        tags.append(f"width={draws.width_scales[i]:g}")
    return tags


def _style(params: SynthesizeParams, draws: _Draws, i: int) -> Handwriting:
    return Handwriting(
        slant=float(draws.slants[i]),
        stroke_variation=float(draws.stroke_variations[i]),
        elastic_alpha=float(draws.elastic[i]),
        elastic_sigma=params.elastic_sigma,
        grid_distortion=float(draws.grid[i]),
        grid_cells=params.grid_cells,
        threshold_jitter=int(draws.threshold_jitter[i]),
        width_scale=float(draws.width_scales[i]),
        seed=(params.seed, i),
    )


def _tags(font: Path, size: int, dx: int, dy: int, rotation: float, stroke: int) -> list[str]:
    return [
        f"font={font.stem}",
        f"size={size}",
        f"offset={dx},{dy}",
        f"rotation={rotation:g}",
        f"stroke={stroke}",
    ]


def synthesize_font_digits(params: SynthesizeParams) -> SynthesizedDigits:
    """``params.count`` font digits, bit-identical for the same params.

    Classes and fonts are balanced; sizes, offsets, rotations, strokes and the handwriting
    knobs are drawn uniformly from their inclusive ranges with
    ``numpy.random.default_rng(params.seed)``; image i's random fields (warps, pen pressure)
    come from ``default_rng([params.seed, i])``.
    """
    fonts = resolve_fonts(list(params.fonts))
    if (params.canvas // 8) ** 2 > np.iinfo(np.uint8).max:
        raise ParamsError(
            f"synthesize.canvas: at most 120 so 8x8 block counts fit in uint8, got {params.canvas}"
        )
    draws = _draw(params, len(fonts))
    pixels = np.empty((params.count, 8, 8, 1), dtype=np.uint8)
    labels: list[str] = []
    tags: list[list[str]] = []
    for i in range(params.count):
        digit = DIGITS[draws.digits[i]]
        font = fonts[draws.fonts[i]]
        size, stroke = int(draws.sizes[i]), int(draws.strokes[i])
        dx, dy, rotation = int(draws.dx[i]), int(draws.dy[i]), float(draws.rotations[i])
        bitmap = render_digit(
            digit,
            font,
            size,
            (dx, dy),
            rotation,
            stroke,
            params.canvas,
            params.ink_threshold,
            _style(params, draws, i),
        )
        pixels[i, :, :, 0] = reduce_to_ink_counts(bitmap)
        labels.append(digit)
        tags.append(_tags(font, size, dx, dy, rotation, stroke) + _knob_tags(params, draws, i))
    return SynthesizedDigits(pixels=pixels, labels=labels, tags=tags)
