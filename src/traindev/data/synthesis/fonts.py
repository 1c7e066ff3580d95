"""Font-rendered digits reduced exactly like scikit-learn's ``load_digits`` (UCI optdigits).

optdigits started from 32x32 binary bitmaps of size-normalized, centred handwriting and
counted the "on" pixels in each non-overlapping 4x4 block, giving 8x8 images of integers
0..16. Rendering font glyphs and applying the same reduction gives a second, differently
distributed domain of the same task: the train/dev mismatch this project studies.

Per image the pipeline is: draw the glyph (with a PIL stroke) on a roomy temporary canvas,
rotate it, crop to its ink, scale so the ink's larger side is ``size`` canvas pixels,
binarize, centre the ink box in the canvas, shift it by the offset, then block-count.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from traindev.config import ParamsError, SynthesizeParams

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


def render_digit(
    digit: str,
    font_path: Path,
    size: int,
    offset: tuple[int, int],
    rotation: float,
    stroke: int,
    canvas: int,
    ink_threshold: int,
) -> np.ndarray:
    """One binary (canvas, canvas) bool bitmap of ``digit``.

    ``size`` is the larger side of the ink box after rotation; ``offset`` is (dx, dy) in
    canvas pixels, +x right and +y down; ``rotation`` is in degrees, counter-clockwise;
    ``stroke`` is PIL's stroke width at the rendered size; grey levels at or above
    ``ink_threshold`` count as ink.
    """
    glyph = _draw_glyph(digit, Path(font_path), size, stroke)
    if rotation:
        glyph = glyph.rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True)
    grey = np.asarray(_normalize_size(glyph, size))
    return _place(grey >= ink_threshold, canvas, offset)


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


def _inclusive_ints(rng: np.random.Generator, bounds: tuple[int, int], n: int) -> np.ndarray:
    return rng.integers(bounds[0], bounds[1], size=n, endpoint=True)


def _draw(params: SynthesizeParams, n_fonts: int) -> _Draws:
    rng = np.random.default_rng(params.seed)
    n = params.count
    # Balanced classes and fonts: counts differ by at most one, order shuffled.
    digits = rng.permutation(np.arange(n) % len(DIGITS))
    fonts = rng.permutation(np.arange(n) % n_fonts)
    sizes = _inclusive_ints(rng, params.font_size, n)
    dx = _inclusive_ints(rng, params.offset, n)
    dy = _inclusive_ints(rng, params.offset, n)
    low, high = params.rotation_degrees
    # Rounded before rendering so the tag states exactly the rotation that was applied.
    rotations = np.round(rng.uniform(low, high, size=n), 1) + 0.0
    strokes = _inclusive_ints(rng, params.stroke_width, n)
    return _Draws(digits, fonts, sizes, dx, dy, rotations, strokes)


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

    Classes and fonts are balanced; sizes, offsets, rotations and strokes are drawn
    uniformly from their inclusive ranges with ``numpy.random.default_rng(params.seed)``.
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
            digit, font, size, (dx, dy), rotation, stroke, params.canvas, params.ink_threshold
        )
        pixels[i, :, :, 0] = reduce_to_ink_counts(bitmap)
        labels.append(digit)
        tags.append(_tags(font, size, dx, dy, rotation, stroke))
    return SynthesizedDigits(pixels=pixels, labels=labels, tags=tags)
