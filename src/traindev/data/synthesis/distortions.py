"""The distortions that make a printed glyph look written by hand.

Each works on the high-resolution canvas before the 4x4 ink count, and each has a size in
canvas pixels or degrees, so a params range says what it does: a slant of 15 leans the top
15 degrees to the right; an elastic alpha of 3 moves no pixel more than 3 canvas pixels.
Random fields come from the caller's per-image generator, so an image is reproducible alone.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage


def shear(glyph: Image.Image, degrees: float) -> Image.Image:
    """Slant a glyph about its centre: + leans the top right (italics), never clipping.

    Handwriting slants far more, and more variably, than fonts do; rotation alone turns the
    whole digit, including its base, which a slant keeps level.
    """
    if not degrees:
        return glyph
    k = math.tan(math.radians(degrees))
    width, height = glyph.size
    new_width = width + math.ceil(abs(k) * height)
    # PIL maps each output (x, y) back to the input: x_in = x - dx + k * (y - cy).
    dx = (new_width - width) / 2
    data = (1.0, k, -dx - k * height / 2, 0.0, 1.0, 0.0)
    return glyph.transform(
        (new_width, height), Image.Transform.AFFINE, data, resample=Image.Resampling.BICUBIC
    )


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """White noise smoothed by a Gaussian of ``sigma`` pixels, scaled to a peak of exactly 1.

    Scaling by the peak (rather than Simard et al.'s fixed alpha on unnormalized noise) makes
    the amplitude a declared bound in pixels whatever the smoothness.
    """
    field = ndimage.gaussian_filter(rng.uniform(-1.0, 1.0, size=shape), sigma, mode="reflect")
    peak = float(np.abs(field).max())
    return field / peak if peak > 0 else field


def _remap(grey: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Sample ``grey`` at (x + dx, y + dy), bilinearly, zero (no ink) outside."""
    rows, cols = np.indices(grey.shape, dtype=np.float32)
    map_x = cols + dx.astype(np.float32)
    map_y = rows + dy.astype(np.float32)
    return cv2.remap(
        grey.astype(np.float32),
        map_x,
        map_y,
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )


def elastic_warp(
    grey: np.ndarray, alpha: float, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """Elastic distortion (Simard et al., 2003): a smooth random displacement field.

    No pixel moves more than ``alpha`` canvas pixels; ``sigma`` sets how smooth the wobble
    is (small: jagged, large: the whole stroke bends), the oscillation of a moving hand.
    """
    if not alpha:
        return grey.astype(np.float32)
    dx = alpha * smooth_field(rng, grey.shape, sigma)
    dy = alpha * smooth_field(rng, grey.shape, sigma)
    return _remap(grey, dx, dy)


def grid_warp(grey: np.ndarray, amount: float, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Grid distortion: the corners of a ``cells`` x ``cells`` grid move by up to ``amount``.

    Displacements are interpolated linearly between the grid nodes, so none exceeds
    ``amount``; it stretches and squeezes whole parts of a digit (a big loop, a short tail).
    """
    if not amount:
        return grey.astype(np.float32)
    size = (grey.shape[1], grey.shape[0])  # cv2 wants (width, height)
    nodes = rng.uniform(-amount, amount, size=(2, cells + 1, cells + 1)).astype(np.float32)
    dx = cv2.resize(nodes[0], size, interpolation=cv2.INTER_LINEAR)
    dy = cv2.resize(nodes[1], size, interpolation=cv2.INTER_LINEAR)
    return _remap(grey, dx, dy)


def signed_distance(ink: np.ndarray) -> np.ndarray:
    """Distance to the ink's edge: + inside, - outside, the edge halfway between pixels."""
    ink = np.asarray(ink, dtype=bool)
    if not ink.any():
        return np.full(ink.shape, -np.inf)
    inside = ndimage.distance_transform_edt(ink)
    outside = ndimage.distance_transform_edt(~ink)
    return np.where(ink, inside - 0.5, 0.5 - outside)


def _ridge(ink: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Each stroke's centre line: ink pixels where the distance to the edge peaks across the
    stroke, along some direction (left-right across a vertical stroke, diagonal across a
    diagonal one)."""
    padded = np.pad(distance, 1, constant_values=-np.inf)
    height, width = distance.shape

    def shifted(dy: int, dx: int) -> np.ndarray:
        return padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]

    peak = np.zeros_like(ink)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ahead, behind = shifted(dy, dx), shifted(-dy, -dx)
        # Strictly above one side: along a stroke's flat edge the distance is level, no peak.
        peak |= (
            (distance >= ahead) & (distance >= behind) & ((distance > ahead) | (distance > behind))
        )
    return ink & peak


def thin(ink: np.ndarray, pixels: float) -> np.ndarray:
    """A finer pen: the stroke's edge moves ``pixels`` inwards, keeping its centre line."""
    ink = np.asarray(ink, dtype=bool)
    if not pixels or not ink.any():
        return ink
    distance = signed_distance(ink)
    return (distance > pixels) | _ridge(ink, distance)


def vary_stroke(
    ink: np.ndarray, amplitude: float, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """Pen pressure: the stroke grows or shrinks by up to ``amplitude`` pixels along its length.

    A smooth field in [-amplitude, amplitude] moves the stroke's edge outwards (heavier) or
    inwards (lighter); a stroke keeps its centre line, so thinning does not erase it.
    """
    ink = np.asarray(ink, dtype=bool)
    if not amplitude or not ink.any():
        return ink
    distance = signed_distance(ink)
    varied = distance + amplitude * smooth_field(rng, ink.shape, sigma) > 0
    return varied | _ridge(ink, distance)
