"""Image properties computed from pixels, offered as pre-ticked columns of the error sheet.

The notes' error analysis ticks categories such as "blurry" by hand. Some of them can be
measured, so the sheet arrives with those columns filled in and the reviewer only corrects
them. Every measure is taken on the grey image scaled to [0, 1] by the store's `pixel_max`:

- brightness: mean intensity;
- contrast: standard deviation of intensity;
- sharpness: variance of the 5-point Laplacian (the usual focus measure: edges make it large,
  blur makes it small);
- centre_offset: distance of the intensity centroid from the image centre, as a fraction of
  the half-diagonal (0 = centred, 1 = all mass in a corner pixel). For ink-on-black images
  such as the digits this is where the ink sits; a blank image counts as centred;
- ink_area: share of pixels brighter than 0.5.

A flag is never a fixed number: "dark" means darker than all but `quantile` of the reference
images (the whole dev set), so the same rule works for 8x8 digits and for photos without
per-dataset tuning, and each flag marks roughly `quantile` of dev (fewer when many images tie
at the threshold, since the comparison is strict).

Within dev, a property the whole target domain shares (every dev image blurred) can never
stand out. So the same rules are also applied with the training images as the reference:
`property_shift` says, per flag and per training domain, which share of dev lies beyond the
training tail; far more than `quantile` means dev differs from training in that property.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.stats import binomtest

MEASURES = ("brightness", "contrast", "sharpness", "centre_offset", "ink_area")
# ITU-R BT.601 luma: how a colour image reads in grey.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_CHUNK_BYTES = 64 << 20  # float32 working set per chunk: bounded memory for huge memmaps
_SECOND_DIFFERENCE = np.array([1.0, -2.0, 1.0], dtype=np.float32)
# A shift must be both clear (binomial test against `quantile`) and large (this many times
# the share the flag marks on the reference itself), so a small sample cannot flip it.
SHIFT_ALPHA = 0.01
SHIFT_FACTOR = 2.0


@dataclass(frozen=True)
class FlagRule:
    """One flag: `measure` below (or above) the reference quantile marks the image."""

    name: str
    measure: str
    direction: Literal["below", "above"]


FLAG_RULES: tuple[FlagRule, ...] = (
    FlagRule("dark", "brightness", "below"),
    FlagRule("low_contrast", "contrast", "below"),
    FlagRule("blurry", "sharpness", "below"),
    FlagRule("off_centre", "centre_offset", "above"),
    FlagRule("small_ink", "ink_area", "below"),
)
FLAG_NAMES: tuple[str, ...] = tuple(rule.name for rule in FLAG_RULES)


@dataclass(frozen=True)
class FlagThreshold:
    name: str
    measure: str
    direction: Literal["below", "above"]
    value: float  # the measure's quantile over the reference images


@dataclass(frozen=True)
class PropertyFlags:
    """Boolean flag columns (index of the measures) and the thresholds that produced them."""

    flags: pd.DataFrame
    thresholds: tuple[FlagThreshold, ...]
    quantile: float

    def describe(self) -> dict[str, str]:
        """{"dark": "brightness < 0.262"}: what each flag means on this reference set."""
        signs = {"below": "<", "above": ">"}
        return {
            threshold.name: f"{threshold.measure} {signs[threshold.direction]} "
            f"{threshold.value:.3g}"
            for threshold in self.thresholds
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "quantile": self.quantile,
            "thresholds": {
                threshold.name: {
                    "measure": threshold.measure,
                    "direction": threshold.direction,
                    "value": threshold.value,
                }
                for threshold in self.thresholds
            },
        }


def measure_images(
    pixels: np.ndarray, pixel_max: int, chunk_images: int | None = None
) -> pd.DataFrame:
    """One row of MEASURES per image of a uint8 (N, H, W, C) array, in row order.

    Works chunk by chunk so a memory-mapped array larger than RAM is read once, in pieces.
    """
    if pixels.ndim != 4:
        raise ValueError(f"pixels must be (N, H, W, C), got shape {pixels.shape}")
    if pixel_max < 1:
        raise ValueError(f"pixel_max must be at least 1, got {pixel_max}")
    count, height, width, channels = pixels.shape
    step = chunk_images or max(1, _CHUNK_BYTES // (4 * max(1, height * width * channels)))
    parts = [
        _measure_chunk(_grey(pixels[start : start + step], pixel_max))
        for start in range(0, count, step)
    ]
    columns = np.concatenate(parts, axis=0) if parts else np.empty((0, len(MEASURES)))
    return pd.DataFrame(columns.astype(np.float64), columns=list(MEASURES))


def property_flags(
    measures: pd.DataFrame, reference: pd.DataFrame, quantile: float
) -> PropertyFlags:
    """Flag images whose measure lies beyond the `quantile` tail of the reference set.

    The reference is the whole dev set, so the thresholds describe the target distribution
    rather than the (possibly odd) sample under review; with the training images as the
    reference the flags say where an image sits in the training distribution.
    """
    if not 0.0 < quantile < 0.5:
        raise ValueError(
            f"quantile must be in (0, 0.5), got {quantile} (analyze.errors.property_quantile)"
        )
    missing = [name for name in MEASURES if name not in reference or name not in measures]
    if missing:
        raise ValueError(f"measures lack columns {missing}; compute them with measure_images")
    if len(reference) == 0:
        raise ValueError("the reference set is empty: flag thresholds need reference images")
    flags: dict[str, np.ndarray] = {}
    thresholds = []
    for rule in FLAG_RULES:
        level = quantile if rule.direction == "below" else 1.0 - quantile
        value = float(np.quantile(reference[rule.measure].to_numpy(), level))
        column = measures[rule.measure].to_numpy()
        flags[rule.name] = column < value if rule.direction == "below" else column > value
        thresholds.append(FlagThreshold(rule.name, rule.measure, rule.direction, value))
    return PropertyFlags(
        pd.DataFrame(flags, index=measures.index), tuple(thresholds), float(quantile)
    )


@dataclass(frozen=True)
class PropertyShift:
    """How much of dev lies beyond one reference's tail for one flag."""

    flag: str
    reference: str  # "all training" or a training domain
    rule: str  # e.g. "sharpness < 0.031" on that reference
    reference_examples: int
    dev_share: float  # of all dev images beyond the reference's threshold
    shifted: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "flag": self.flag,
            "reference": self.reference,
            "rule": self.rule,
            "reference_examples": self.reference_examples,
            "dev_share": self.dev_share,
            "shifted": self.shifted,
        }


def property_shift(
    dev: pd.DataFrame, references: dict[str, pd.DataFrame], quantile: float
) -> list[PropertyShift]:
    """Per flag and reference, the share of dev beyond the reference's `quantile` tail.

    On its own reference a flag marks about `quantile`; `shifted` when dev's share is
    clearly (binomial test at SHIFT_ALPHA) and substantially (SHIFT_FACTOR times) larger.
    Empty references are left out.
    """
    shifts = []
    for name, reference in references.items():
        if len(reference) == 0 or len(dev) == 0:
            continue
        flags = property_flags(dev, reference, quantile)
        rules = flags.describe()
        for flag in FLAG_NAMES:
            count = int(flags.flags[flag].sum())
            share = count / len(dev)
            clear = binomtest(count, len(dev), quantile, alternative="greater").pvalue
            shifted = bool(clear < SHIFT_ALPHA and share >= SHIFT_FACTOR * quantile)
            shifts.append(PropertyShift(flag, name, rules[flag], len(reference), share, shifted))
    return shifts


def _grey(chunk: np.ndarray, pixel_max: int) -> np.ndarray:
    """float32 (n, H, W) in [0, 1]; colour is reduced by luma, other channel counts by mean."""
    scaled = np.asarray(chunk, dtype=np.float32) / np.float32(pixel_max)
    channels = scaled.shape[-1]
    if channels == 1:
        grey = scaled[..., 0]
    elif channels in (3, 4):  # RGB, or RGBA whose alpha says nothing about the picture
        grey = scaled[..., :3] @ _LUMA
    else:
        grey = scaled.mean(axis=-1)
    return np.clip(grey, 0.0, 1.0)


def _measure_chunk(grey: np.ndarray) -> np.ndarray:
    """(n, len(MEASURES)) for a chunk of grey images."""
    _, height, width = grey.shape
    laplacian = ndimage.correlate1d(grey, _SECOND_DIFFERENCE, axis=1) + ndimage.correlate1d(
        grey, _SECOND_DIFFERENCE, axis=2
    )
    return np.stack(
        [
            grey.mean(axis=(1, 2)),
            grey.std(axis=(1, 2)),
            laplacian.var(axis=(1, 2)),
            _centre_offset(grey, height, width),
            (grey > 0.5).mean(axis=(1, 2)),
        ],
        axis=1,
    )


def _centre_offset(grey: np.ndarray, height: int, width: int) -> np.ndarray:
    mass = grey.sum(axis=(1, 2))
    centre_y, centre_x = (height - 1) / 2, (width - 1) / 2
    rows = grey.sum(axis=2) @ np.arange(height, dtype=np.float32)
    cols = grey.sum(axis=1) @ np.arange(width, dtype=np.float32)
    safe_mass = np.where(mass > 0, mass, 1.0)
    dy = np.where(mass > 0, rows / safe_mass - centre_y, 0.0)
    dx = np.where(mass > 0, cols / safe_mass - centre_x, 0.0)
    half_diagonal = np.hypot(centre_y, centre_x)
    if half_diagonal == 0:  # a 1x1 image has no off-centre
        return np.zeros_like(mass)
    return np.hypot(dy, dx) / half_diagonal
