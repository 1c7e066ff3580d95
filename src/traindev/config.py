"""The params schema: each key's type, allowed values, default and description, once.

The defaults are the values the project runs (params.yaml lists them all, and a test keeps the
two equal); docs/reference/params.md is generated from this module
(`python -m traindev.params_reference`). Reading and checking the file itself is
`traindev.params_file`. This module imports nothing from the data, training or model code
beyond the architectures' own schemas, so every stage can validate params cheaply.
"""

from __future__ import annotations

import difflib
import re
import string
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from traindev.models.params import ARCHITECTURE_PARAMS, ArchitectureParams
from traindev.records.store import Resize

DEFAULT_PARAMS_PATH = Path("params.yaml")

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
# A split size below 1 is a fraction of its pool; 1 or more is a count of examples.
SplitSize = Annotated[float, Field(ge=0.0)]


class ParamsError(ValueError):
    """A params.yaml problem, worded for the user: which key, what is wrong, how to fix it."""


class Section(BaseModel):
    """A params section: unknown keys are errors, values are read-only once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def did_you_mean(word: str, candidates: list[str]) -> str:
    """` (did you mean 'x'?)` for the nearest candidate, or nothing."""
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


class IngestParams(Section):
    """Where the real examples come from: the embedded digits, or your own images."""

    source: Literal["sklearn_digits", "folder", "manifest"] = Field(
        "sklearn_digits",
        description="sklearn_digits: scikit-learn's 1,797 real 8x8 digits, embedded; folder: "
        "an image folder `<root>/<domain>/<class>/<file>`; manifest: a .csv or .parquet file "
        "of path, label, domain, tags (a;b) and extra columns (kept as meta.*).",
    )
    domain: str = Field(
        "handwritten",
        min_length=1,
        description="The domain written into the manifest (sklearn_digits), or given to "
        "manifest rows without one.",
    )
    root: str | None = Field(
        None,
        description="folder: the image folder; manifest: the base of relative paths. "
        "Read only with source folder or manifest.",
    )
    manifest: str | None = Field(
        None, description="source manifest: the .csv or .parquet file listing the images."
    )
    image_size: tuple[int, int] = Field(
        (32, 32), description="[height, width] every image is decoded to, once, at ingest."
    )
    channels: Literal[1, 3] = Field(3, description="1: grey (luma); 3: RGB.")
    resize: Resize = Field(
        "letterbox",
        description="How an image of another shape reaches image_size: stretch, letterbox "
        "(pad with black, keeping the aspect) or centre_crop.",
    )
    on_bad_input: Literal["fail", "skip"] = Field(
        "fail",
        description="An unreadable or unusable image stops ingest (fail), or is left out and "
        "listed in reports/ingest/skipped.csv (skip).",
    )
    classes: list[str] | None = Field(
        None,
        description="The ordered class list (at least 2); null: the sorted label names found.",
    )
    domains: list[str] | None = Field(
        None,
        description="Domains that must be present; naming them lets params be checked against "
        "split.target_domain before ingest runs.",
    )
    workers: int | Literal["auto"] = Field(
        "auto", description="Image-decoding processes (>= 1); auto: sized to the machine."
    )

    @field_validator("image_size")
    @classmethod
    def _positive_size(cls, value: tuple[int, int]) -> tuple[int, int]:
        if min(value) < 1:
            raise ValueError(f"must be [height, width] with both >= 1, got {list(value)}")
        return value

    @field_validator("workers")
    @classmethod
    def _workers_positive(cls, value: int | str) -> int | str:
        if value != "auto" and int(value) < 1:
            raise ValueError("must be 'auto' or a number of processes >= 1")
        return value

    @field_validator("classes", "domains")
    @classmethod
    def _distinct_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        if not value or any(not name.strip() for name in value):
            raise ValueError("must be a non-empty list of non-empty names (or left out)")
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"names {repeated} appear more than once")
        return value

    @model_validator(mode="after")
    def _source_has_its_input(self) -> IngestParams:
        if self.source == "folder" and not self.root:
            raise ValueError("ingest.root is required with source: folder (the image folder)")
        if self.source == "manifest" and not self.manifest:
            raise ValueError("ingest.manifest is required with source: manifest (.csv/.parquet)")
        if self.source == "sklearn_digits" and (self.root or self.manifest):
            raise ValueError(
                "ingest.root / ingest.manifest are read only with source: folder or manifest; "
                "set ingest.source or remove them"
            )
        if self.source == "folder" and self.manifest:
            raise ValueError("ingest.manifest is read only with source: manifest; remove it")
        if self.classes is not None and len(self.classes) < 2:
            raise ValueError("ingest.classes must list at least 2 classes")
        return self


def _ordered_pair(value: tuple[float, float]) -> tuple[float, float]:
    if value[0] > value[1]:
        raise ValueError(f"range must be [low, high] with low <= high, got {list(value)}")
    return value


# [low, high], drawn uniformly per image; low == high fixes the value, [0, 0] turns a knob off.
Range = Annotated[tuple[float, float], AfterValidator(_ordered_pair)]
NonNegativeRange = Annotated[
    tuple[NonNegativeFloat, NonNegativeFloat], AfterValidator(_ordered_pair)
]
PositiveRange = Annotated[tuple[PositiveFloat, PositiveFloat], AfterValidator(_ordered_pair)]
FractionRange = Annotated[tuple[Fraction, Fraction], AfterValidator(_ordered_pair)]
IntRange = Annotated[tuple[int, int], AfterValidator(_ordered_pair)]
Quality = Annotated[int, Field(ge=1, le=100)]

PROBABILITY = "Probability that an image gets this effect; 0 turns it off."


class BlurParams(Section):
    """Camera blur (focus, shake): a Gaussian of `sigma` output pixels, with probability p."""

    p: Fraction = Field(0.0, description=PROBABILITY)
    sigma: NonNegativeRange = Field(
        (0.5, 1.5), description="Gaussian standard deviation, output pixels."
    )


class LowLightParams(Section):
    """A dim scene: intensity -> gain * intensity ** gamma (gamma > 1 darkens the mid-tones)."""

    p: Fraction = Field(0.0, description=PROBABILITY)
    gain: FractionRange = Field((0.3, 0.9), description="Brightness multiplier.")
    gamma: PositiveRange = Field((1.0, 2.2), description="Exponent; above 1 darkens mid-tones.")


class JpegParams(Section):
    """Re-encoding as JPEG at a quality drawn from the range (1 worst, 100 best)."""

    p: Fraction = Field(0.0, description=PROBABILITY)
    quality: Annotated[tuple[Quality, Quality], AfterValidator(_ordered_pair)] = Field(
        (20, 80), description="JPEG quality, 1 (worst) to 100 (best)."
    )


class GaussianNoiseParams(Section):
    """Sensor read noise: additive Gaussian, sigma a share of full scale."""

    p: Fraction = Field(0.0, description=PROBABILITY)
    sigma: FractionRange = Field(
        (0.01, 0.05), description="Noise standard deviation, share of full scale."
    )


class ShotNoiseParams(Section):
    """Photon (Poisson) noise: `photons` expected at full intensity; fewer is noisier."""

    p: Fraction = Field(0.0, description=PROBABILITY)
    photons: PositiveRange = Field(
        (20.0, 200.0), description="Photons expected at full intensity; fewer is noisier."
    )


class OverlayParams(Section):
    """`synthesize.source: overlay`: clean foregrounds composited on noise-source backgrounds,
    the image analogue of adding car noise to clean speech."""

    foregrounds: str = Field(
        "data/ingested",
        description="A store directory (with foreground_domains), or a folder "
        "`<foregrounds>/<class>/<file>` of clean images.",
    )
    foreground_domains: list[str] = Field(
        default_factory=list,
        description="With a store: the clean domain(s) to composite. Never the target domain: "
        "its dev and test images would leak into training as composites.",
    )
    backgrounds: str = Field(
        "data/raw/backgrounds",
        description="The noise sources: a folder of any images, any size, any depth below.",
    )
    image_size: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = Field(
        (32, 32), description="Folder foregrounds: the [height, width] they are decoded to."
    )
    channels: Literal[1, 3] = Field(3, description="Folder foregrounds: 1 grey, 3 RGB.")
    blend: Literal["mask", "mix"] = Field(
        "mask",
        description="mask: the foreground's brightness is its opacity (bright ink stays on "
        "top); mix: a plain weighted sum of the two images, like mixing two sounds.",
    )
    background_weight: FractionRange = Field(
        (0.2, 0.6), description="0: the clean foreground; 1: only the background."
    )
    blur: BlurParams = Field(default_factory=BlurParams)
    low_light: LowLightParams = Field(default_factory=LowLightParams)
    jpeg: JpegParams = Field(default_factory=JpegParams)
    gaussian_noise: GaussianNoiseParams = Field(default_factory=GaussianNoiseParams)
    shot_noise: ShotNoiseParams = Field(default_factory=ShotNoiseParams)


class DiversityParams(Section):
    """Synthesis from a narrow pool overfits to that pool; below this, the stage warns."""

    min_effective_sources: float = Field(
        5.0,
        ge=1.0,
        description="Warn below this many effective fonts / stroke templates / backgrounds: "
        "exp(entropy) of their shares, the number of equally used sources the set is worth.",
    )


class StrokesParams(Section):
    """Pen-drawn digits: skeleton templates drawn in a random writer's style.

    Each range is drawn per image and tagged. The ranges were tuned on dev error (never test)
    with benchmarks/synthesis_gap.py: pen-drawn digits alone beat fonts and fonts + strokes.
    """

    share: Fraction = Field(
        0.0,
        description="With synthesize.source fonts, this share of synthesize.count is "
        "pen-drawn (0: fonts only); source strokes draws them all.",
    )
    height: PositiveRange = Field(
        (31.0, 32.0),
        description="Ink height, canvas pixels (the real digits fill the 32-pixel box).",
    )
    aspect: PositiveRange = Field(
        (0.5, 0.8), description="Skeleton width / height, before the slant."
    )
    slant_degrees: Range = Field((-20.0, 15.0), description="Shear; + leans the top right.")
    rotation_degrees: Range = Field((-5.0, 5.0), description="Rotation, degrees.")
    pen_width: PositiveRange = Field(
        (2.5, 5.0),
        description="Pen width, canvas pixels (the real bitmaps' strokes are thick); with "
        "ink_share on, only the first guess.",
    )
    ink_share: FractionRange = Field(
        (0.25, 0.36),
        description="The pen is fitted per image so ink covers this share of the canvas (the "
        "real digits' 5th..95th percentile, whatever the class); [0, 0]: pen_width decides.",
    )
    jitter: NonNegativeRange = Field(
        (0.0, 0.08), description="Control-point shift (standard deviation), share of the height."
    )
    curvature: NonNegativeRange = Field(
        (0.6, 1.0),
        description="Spline tangent scale: 1 passes smoothly through the points, 0 draws "
        "straight segments.",
    )
    elastic_alpha: NonNegativeRange = Field(
        (0.0, 2.0), description="Elastic warp on top: largest shift, canvas pixels."
    )
    elastic_sigma: float = Field(
        3.0, gt=0.0, description="Elastic warp field smoothness, canvas pixels."
    )
    offset: IntRange = Field(
        (-1, 1), description="x / y shift of the ink box's centre, canvas pixels."
    )


BUNDLED_FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
)


class SynthesizeParams(Section):
    """The synthetic source domain: digits drawn with a pen, rendered from fonts, or
    composited on backgrounds, then reduced the way the real set was made (4x4 ink counts).

    The font ranges were tuned on dev error (never test) with benchmarks/synthesis_gap.py.
    """

    seed: int = Field(0, description="Seed of every per-image draw.")
    count: int = Field(
        1000,
        ge=0,
        description="Synthetic images, balanced over the classes; 0: no synthetic domain "
        "(your own data brings its own). 1,000 beat 6,000 on dev error.",
    )
    domain: str = Field(
        "synthetic",
        min_length=1,
        description="The synthetic domain's name in the manifest and the report; it must "
        "differ from every real domain.",
    )
    source: Literal["fonts", "strokes", "overlay"] = Field(
        "strokes",
        description="strokes: pen-drawn digits (synthesize.strokes); fonts: rendered from "
        "fonts, strokes.share of them pen-drawn; overlay: composites (synthesize.overlay).",
    )
    fonts: list[str] = Field(
        default_factory=lambda: list(BUNDLED_FONTS),
        min_length=1,
        description="File names in matplotlib's bundled font folder, or absolute paths to "
        ".ttf / .otf files.",
    )
    canvas: int = Field(
        32,
        ge=8,
        description="Side of the high-resolution render, pixels; a multiple of 8, reduced by "
        "blocks counting ink pixels to 8x8 (values 0..16).",
    )
    font_size: IntRange = Field(
        (30, 32),
        description="Larger ink side, canvas pixels (the real digits fill the 32-pixel box).",
    )
    offset: IntRange = Field((-2, 2), description="x / y shift, canvas pixels.")
    rotation_degrees: Range = Field((-5.0, 5.0), description="Rotation, degrees.")
    stroke_width: IntRange = Field(
        (0, 0), description="Extra pen width, canvas pixels; negative: a finer pen."
    )
    ink_threshold: int = Field(
        160, ge=1, le=255, description="Rendered grey level (1..255) that counts as ink."
    )
    slant_degrees: Range = Field(
        (-20.0, 0.0),
        description="Horizontal shear, degrees; + leans right (the italic fonts already do).",
    )
    stroke_variation: NonNegativeRange = Field(
        (0.0, 1.5),
        description="Pen pressure: the stroke's edge moves up to this many canvas pixels.",
    )
    elastic_alpha: NonNegativeRange = Field(
        (0.0, 3.0), description="Elastic warp: largest shift, canvas pixels."
    )
    elastic_sigma: float = Field(
        3.0, gt=0.0, description="Elastic warp field smoothness, canvas pixels."
    )
    grid_distortion: NonNegativeRange = Field(
        (0.0, 0.0), description="Grid warp: largest node shift, canvas pixels; [0, 0]: off."
    )
    grid_cells: int = Field(4, ge=1, description="Grid warp: cells per side.")
    ink_threshold_jitter: IntRange = Field(
        (0, 0),
        description="Added to ink_threshold per image; the sum must stay in 1..255.",
    )
    width_scale: PositiveRange = Field(
        (0.7, 1.0), description="Horizontal stretch of the glyph; 1: the font's own width."
    )
    strokes: StrokesParams = Field(default_factory=StrokesParams)
    overlay: OverlayParams = Field(default_factory=OverlayParams)
    diversity: DiversityParams = Field(default_factory=DiversityParams)

    @field_validator("canvas")
    @classmethod
    def _canvas_multiple_of_8(cls, value: int) -> int:
        if value % 8:
            raise ValueError(
                f"must be a multiple of 8 (it is reduced by blocks to 8x8), got {value}"
            )
        return value

    @model_validator(mode="after")
    def _sizes_positive(self) -> SynthesizeParams:
        if self.font_size[0] < 1:
            raise ValueError("font_size must be >= 1")
        low, high = (self.ink_threshold + jitter for jitter in self.ink_threshold_jitter)
        if low < 1 or high > 255:
            raise ValueError(
                f"ink_threshold + ink_threshold_jitter must stay in 1..255, got {low}..{high}"
            )
        return self


class CanvasParams(Section):
    """Detection's embedded default: canvases holding several digits at random scales and
    positions, target canvases from the real digits and source canvases from the synthetic
    ones; boxes and each digit's pixel mask are known by construction (docs/detection.md)."""

    seed: int = Field(0, description="Seed of every per-canvas draw.")
    real_count: int = Field(
        1500, ge=0, description="Canvases built from the real digits (ingest's domain)."
    )
    synthetic_count: int = Field(
        2000, ge=0, description="Canvases built from the synthesized digits (synthesize's domain)."
    )
    size: tuple[int, int] = Field((64, 64), description="[height, width] of a canvas, pixels.")
    objects: IntRange = Field(
        (1, 4), description="Digits placed per canvas (fewer when max_overlap leaves no room)."
    )
    digit_size: IntRange = Field(
        (12, 32), description="Side of a digit's square image once scaled, pixels."
    )
    max_overlap: Fraction = Field(
        0.2, description="Largest IoU allowed between two boxes of a canvas; 0: none touch."
    )
    clutter: IntRange = Field(
        (0, 3), description="Stray pen strokes drawn per canvas: background that is no digit."
    )
    size_edges: tuple[int, int] = Field(
        (16, 24),
        description="Tag of the smallest box by its side sqrt(w * h): below the first edge "
        "small, below the second medium, else large.",
    )

    @model_validator(mode="after")
    def _digits_fit(self) -> CanvasParams:
        if min(self.size) < 8:
            raise ValueError(f"size must be at least [8, 8], got {list(self.size)}")
        if self.objects[0] < 1 or self.objects[1] > 255:
            raise ValueError(
                "objects must lie in [1, 255]: every canvas holds a digit, and the uint8 "
                f"instance masks number at most 255; got {list(self.objects)}"
            )
        if self.digit_size[0] < 4 or self.digit_size[1] > min(self.size):
            raise ValueError(
                f"digit_size must lie in [4, {min(self.size)}] (the canvas's shorter side), "
                f"got {list(self.digit_size)}"
            )
        if self.clutter[0] < 0:
            raise ValueError("clutter must be >= 0")
        if not 0 < self.size_edges[0] <= self.size_edges[1]:
            raise ValueError(f"size_edges must be 0 < first <= second, got {list(self.size_edges)}")
        return self


class SourceDomainParams(Section):
    """How much of one source (non-target) domain joins the training pool."""

    fraction: Fraction = Field(
        1.0, description="Share of the domain's examples, chosen by content hash."
    )
    cap: int | None = Field(None, ge=0, description="Then at most this many (exact); null: all.")


class NearDuplicateParams(Section):
    """Drop train images whose perceptual hash is within `max_distance` bits of a dev/test one."""

    enabled: bool = Field(False, description="Run the perceptual-hash check.")
    max_distance: int = Field(
        4, ge=0, le=10, description="Hamming distance between 64-bit pHashes, bits."
    )


class SplitParams(Section):
    """train / train-dev / dev / test: dev and test only from the target domain, part of the
    target in training, train-dev carved from the training distribution."""

    seed: int = Field(0, description="Seed of the split assignment.")
    target_domain: str = Field(
        "handwritten", min_length=1, description="Dev and test come only from this domain."
    )
    dev: SplitSize = Field(
        0.25, description="Below 1: a fraction of the target domain; 1 or more: a count."
    )
    test: SplitSize = Field(
        0.25, description="Below 1: a fraction of the target domain; 1 or more: a count."
    )
    target_to_train: Fraction = Field(
        1.0, description="Share of the remaining target examples that joins the training pool."
    )
    train_dev: SplitSize = Field(
        0.1,
        description="Carved from the training pool: below 1 a fraction, 1 or more a count.",
    )
    stratify: bool = Field(
        True,
        description="true: each (domain, class) gets its exact share, and added rows can move "
        "a few at the cuts; false: added rows never move earlier ones (fractions).",
    )
    sources: dict[str, SourceDomainParams] = Field(
        default_factory=dict,
        description="Per source domain, how much joins training, e.g. "
        "{synthetic: {fraction: 0.5, cap: 5000}}; a domain not listed joins whole.",
    )
    expected_error: float = Field(
        0.03,
        gt=0.0,
        lt=1.0,
        description="An error rate near the current dev error, for the dev / test size check.",
    )
    min_resolvable_difference: float = Field(
        0.01,
        gt=0.0,
        lt=1.0,
        description="Smallest error difference dev must resolve (95%), else a warning.",
    )
    near_duplicates: NearDuplicateParams = Field(default_factory=NearDuplicateParams)

    @model_validator(mode="after")
    def _fractions_leave_room(self) -> SplitParams:
        if self.dev < 1 and self.test < 1 and self.dev + self.test >= 1:
            raise ValueError(
                f"dev + test fractions must be below 1 (got {self.dev} + {self.test}); "
                "leave part of the target for training or lower them"
            )
        if self.target_domain in self.sources:
            raise ValueError(
                f"split.sources.{self.target_domain} is the target domain; its share of the "
                "training pool is split.target_to_train"
            )
        return self


class TransferParams(Section):
    """Transfer learning: start an architecture from an earlier run's weights."""

    init_from: dict[str, str] = Field(
        default_factory=dict,
        description="Architecture -> a checkpoint file (data/models/<arch>/model.pt) or an "
        'MLflow model, "runs:/<run_id>" or "models:/<name>@<alias>"; the others start from '
        "random initialization.",
    )
    trainable_layers: int | Literal["all"] = Field(
        "all",
        description='"all": fine-tune everything; N >= 1: train only the last N parameterized '
        "layers (N = 1: the new output layer).",
    )
    cache_features: bool = Field(
        False,
        description="With only the output layer trainable, compute the frozen body's "
        "activations once.",
    )

    @field_validator("trainable_layers")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if value != "all" and int(value) < 1:
            raise ValueError("must be 'all' or a number of layers >= 1")
        return value


class ScheduleParams(Section):
    """Learning-rate decay as course 2, week 2 lists it, plus cosine, all after a warm-up,
    stepped per mini-batch.

    `epoch_num` counts from 1 in the notes' formulas, so the first epoch of
    `inverse_time` already runs at lr / (1 + decay_rate).
    """

    name: Literal["constant", "inverse_time", "exponential", "inverse_sqrt", "step", "cosine"] = (
        Field("constant", description="The decay formula.")
    )
    decay_rate: float = Field(
        1.0, ge=0.0, description="inverse_time: lr / (1 + decay_rate * epoch_num)."
    )
    base: float = Field(0.95, gt=0.0, le=1.0, description="exponential: lr * base ** epoch_num.")
    k: float = Field(1.0, gt=0.0, description="inverse_sqrt: lr * k / sqrt(epoch_num).")
    step_epochs: int = Field(
        5, ge=1, description="step: lr * gamma ** (epochs done // step_epochs)."
    )
    gamma: float = Field(0.5, gt=0.0, le=1.0, description="step: the factor per step.")
    min_lr: float = Field(0.0, ge=0.0, description="cosine: the floor it anneals to.")
    warmup_epochs: float = Field(
        0.0,
        ge=0.0,
        description="Linear ramp from ~0 to lr before any decay, in epochs (fractions work).",
    )


class EarlyStoppingParams(Section):
    """Stop when dev error has not improved for `patience` epochs. Off by default: the notes
    call it non-orthogonal (it couples fitting the training set with doing well on dev)."""

    enabled: bool = Field(False, description="Stop early on a dev-error plateau.")
    patience: int = Field(
        3, ge=1, description="Epochs without a dev-error improvement before stopping."
    )
    min_delta: float = Field(
        0.0, ge=0.0, description="An improvement smaller than this does not count."
    )
    restore_best: bool = Field(
        True, description="Keep the weights of the best dev epoch, not the last."
    )


class CheckpointParams(Section):
    """Per-epoch training state for resuming a killed run; not a DVC output."""

    enabled: bool = Field(True, description="Save the training state after every epoch.")
    directory: str = Field(
        "checkpoints",
        min_length=1,
        description="checkpoints/<arch>/last.pt; removed when training finishes.",
    )
    resume: bool = Field(
        True,
        description="Resume from a matching checkpoint (same params, data and world size).",
    )


class AugmentParams(Section):
    """Data augmentation of the train split (traindev.data.augmentation): batched on the
    training device, or per image in DataLoader workers (backend).

    Off by default: on the embedded digits it does not lower the selected model's dev error.
    """

    enabled: bool = Field(False, description="Augment the train split.")
    preset: Literal["notes", "none"] = Field(
        "notes",
        description="notes: the notes' list less mirroring (crop, rotate, shear, elastic warp, "
        "colour shift, FancyPCA); none: only `transforms`.",
    )
    transforms: list[dict[str, Any]] = Field(
        default_factory=list,
        description="albumentations transforms, each {name: <class>, p: <probability>, <its "
        "arguments>}; one named like a preset transform tunes it, the others are appended.",
    )
    allow_label_changing: bool = Field(
        False,
        description="Mirrors, transposes and right-angle turns change a digit's class: refused "
        "unless true.",
    )
    backend: Literal["auto", "batched", "albumentations"] = Field(
        "auto",
        description="batched: whole batches in torch, on the device; albumentations: per image "
        "in DataLoader workers; auto: batched when every transform has a batched translation.",
    )
    offline_copies: int = Field(
        0,
        ge=0,
        description="N > 0: the augment stage writes N augmented copies of the train split "
        "(data/augmented) and epoch e trains on copy (e - 1) mod N, for transforms too slow "
        "for the fly; 0: on the fly.",
    )

    @model_validator(mode="after")
    def _offline_needs_augmentation(self) -> AugmentParams:
        if self.offline_copies and not self.enabled:
            raise ValueError(
                f"offline_copies: {self.offline_copies} needs enabled: true (there is no "
                "augmentation to materialize); set offline_copies: 0 or enable augmentation"
            )
        return self


# The train keys one architecture may set for itself (train.overrides.<arch>): its budget.
OVERRIDABLE_TRAIN_KEYS = ("epochs", "lr", "batch_size")


class SourceDataParams(Section):
    """Which training rows the optimizer sees: the notes' question "does data from another
    distribution help?" (the target is the domain of dev and test; the source is every other
    domain in the train split). The split itself never changes, so dev and test stay the same
    rows and the three choices compare on them (`traindev source-ablation`)."""

    mode: Literal["all", "target_only", "weighted"] = Field(
        "all",
        description="all: every train row; target_only: the target domain's train rows only; "
        "weighted: every train row, each source row's loss multiplied by `weight`.",
    )
    weight: float = Field(
        0.1,
        gt=0.0,
        le=1.0,
        description="weighted: a source row's share of the loss relative to a target row "
        "(the notes' beta); 1.0 is the same as all.",
    )


class TrainOverrideParams(Section):
    """One architecture's own training budget; a key left out keeps the shared train value.

    The values are checked against the shared key's own rules (TrainParams), so each rule
    lives once.
    """

    epochs: int | None = Field(None, description="This architecture's train.epochs.")
    lr: float | None = Field(None, description="This architecture's train.lr.")
    batch_size: int | Literal["full"] | None = Field(
        None, description="This architecture's train.batch_size."
    )

    def values(self) -> dict[str, Any]:
        return {key: value for key, value in self.model_dump().items() if value is not None}


class TrainParams(Section):
    """Training: one train@<arch> stage and one MLflow run per listed architecture."""

    seed: int = Field(0, description="Seed of initialization, shuffling and augmentation.")
    architectures: list[str] = Field(
        default_factory=lambda: ["logistic_regression", "deep_nn", "lenet5"],
        min_length=1,
        description="Architectures to train and compare; each gets train@, evaluate@ and "
        "analyze@ stages and its hyperparameters from models.<name>.",
    )
    epochs: int = Field(15, ge=1, description="Passes over the training set.")
    batch_size: int | Literal["full"] = Field(
        64,
        description="The global mini-batch: 1 is stochastic gradient descent, full (or anything "
        ">= the training set) batch gradient descent; under torchrun it is split across "
        "processes.",
    )
    optimizer: Literal["sgd", "momentum", "rmsprop", "adam", "adamw"] = Field(
        "adam", description="The update rule (course 2, week 2)."
    )
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="Learning rate (alpha).")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="beta of momentum.")
    beta1: float = Field(0.9, ge=0.0, lt=1.0, description="Adam's first-moment decay.")
    beta2: float = Field(
        0.999,
        ge=0.0,
        lt=1.0,
        description="Adam's second-moment decay, and RMSprop's averaging coefficient.",
    )
    epsilon: float = Field(1e-8, gt=0.0, description="Adam / RMSprop denominator guard.")
    l2: float = Field(
        1e-4, ge=0.0, description="Weight decay (the notes' lambda / m); 0: no L2 penalty."
    )
    schedule: ScheduleParams = Field(default_factory=ScheduleParams)
    clip_grad_norm: float | None = Field(
        None,
        gt=0.0,
        description="Rescale gradients whose global norm is larger (e.g. 1.0); null: no clipping.",
    )
    early_stopping: EarlyStoppingParams = Field(default_factory=EarlyStoppingParams)
    multilabel: list[str] = Field(
        default_factory=list,
        description="Multi-label classification (the notes' multi-task learning): manifest "
        "columns label.<name> holding 1 / 0 / empty, a sigmoid per label with missing labels "
        "masked out; empty: one softmax over label. Formerly train.tasks.",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="auto: CUDA, else MPS, else CPU."
    )
    deterministic: bool = Field(
        True, description="Bit-identical runs on CPU; deterministic kernels on GPU."
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto",
        description="auto: bf16 autocast on CUDA (fp16 with loss scaling where bf16 is "
        "unsupported), fp32 elsewhere; fp32 / bf16 / fp16 force it.",
    )
    channels_last: bool = Field(
        True, description="channels_last memory format for convolutional models on CUDA."
    )
    compile: bool = Field(
        False, description="torch.compile the model (the first epoch pays the compilation)."
    )
    num_workers: int | Literal["auto"] = Field(
        "auto",
        description="DataLoader workers (>= 0) for splits streamed from disk; auto: cores - 1, "
        "at most 8.",
    )
    checkpoint: CheckpointParams = Field(default_factory=CheckpointParams)
    progress: Literal["auto", "always", "never"] = Field(
        "auto",
        description="The per-epoch progress bar (auto: on a terminal, never in CI or logs); "
        "one line per epoch goes to stderr in every mode but never.",
    )
    in_memory_max_mb: float = Field(
        512.0,
        ge=0.0,
        description="Splits up to this size (MB) are held on the device as one tensor; larger "
        "ones stream from the memory-mapped pixel store through a DataLoader.",
    )
    source_data: SourceDataParams = Field(default_factory=SourceDataParams)
    transfer: TransferParams = Field(default_factory=TransferParams)
    augment: AugmentParams = Field(default_factory=AugmentParams)
    overrides: dict[str, TrainOverrideParams] = Field(
        default_factory=dict,
        description="Per-architecture epochs, lr and batch_size replacing the shared ones, e.g. "
        "{resnet18: {epochs: 40, lr: 0.01}, logistic_regression: {epochs: 5}}; {}: every "
        "architecture trains with the shared values. Any change re-runs every train stage "
        "(DVC tracks the whole mapping).",
    )

    def for_architecture(self, name: str) -> TrainParams:
        """The train params `name` trains with: the shared ones, its overrides applied."""
        override = self.overrides.get(name)
        if override is None or not override.values():
            return self.model_copy(update={"overrides": {}})
        return TrainParams.model_validate(self.model_dump() | override.values() | {"overrides": {}})

    @field_validator("overrides")
    @classmethod
    def _overrides_name_architectures(
        cls, overrides: dict[str, TrainOverrideParams]
    ) -> dict[str, TrainOverrideParams]:
        known = sorted(ARCHITECTURE_PARAMS)
        for name in overrides:
            if name not in ARCHITECTURE_PARAMS:
                raise ValueError(
                    f"unknown architecture {name!r}{did_you_mean(name, known)}; "
                    f"valid architectures: {', '.join(known)}"
                )
        return overrides

    @model_validator(mode="after")
    def _overrides_follow_the_shared_rules(self) -> TrainParams:
        shared = self.model_dump() | {"overrides": {}}
        for name, override in self.overrides.items():
            try:
                TrainParams.model_validate(shared | override.values())
            except ValidationError as exc:
                error = exc.errors()[0]
                key = ".".join(str(part) for part in error["loc"])
                message = error["msg"].removeprefix("Value error, ")
                raise ValueError(
                    f"overrides.{name}.{key}: {message} (got {error.get('input')!r})"
                ) from None
        return self

    @model_validator(mode="after")
    def _transfer_targets_are_trained(self) -> TrainParams:
        stray = sorted(set(self.transfer.init_from) - set(self.architectures))
        if stray:
            raise ValueError(
                f"transfer.init_from names {stray}, which train.architectures does not list"
            )
        if self.transfer.trainable_layers != "all" and not self.transfer.init_from:
            raise ValueError(
                "transfer.trainable_layers freezes layers, which only makes sense with "
                "transfer.init_from; set it to 'all' or name a pretrained run"
            )
        return self

    @model_validator(mode="after")
    def _augment_not_cached(self) -> TrainParams:
        cached = self.transfer.cache_features and self.transfer.trainable_layers == 1
        if self.augment.enabled and cached:
            raise ValueError(
                "augment.enabled with transfer.cache_features: the frozen body's features are "
                "computed once, so augmented images would never reach it; turn one off"
            )
        return self

    @field_validator("batch_size")
    @classmethod
    def _positive_batch(cls, value: int | str) -> int | str:
        if value != "full" and int(value) < 1:
            raise ValueError("must be a number of examples >= 1 or 'full' (batch gradient descent)")
        return value

    @field_validator("num_workers")
    @classmethod
    def _workers(cls, value: int | str) -> int | str:
        if value != "auto" and int(value) < 0:
            raise ValueError("must be a number of worker processes >= 0 or 'auto'")
        return value

    @field_validator("multilabel")
    @classmethod
    def _distinct_labels(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"label names must be distinct, got {names}")
        for name in names:  # they become MLflow metric names: final.dev.label_error.<name>
            if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                raise ValueError(
                    f"label name {name!r} may use only letters, digits, '_' and '-' "
                    "(the manifest column is label.<name>)"
                )
        return names

    @field_validator("architectures")
    @classmethod
    def _known_architectures(cls, names: list[str]) -> list[str]:
        known = sorted(ARCHITECTURE_PARAMS)
        for name in names:
            if name not in ARCHITECTURE_PARAMS:
                hint = did_you_mean(name, known)
                raise ValueError(
                    f"unknown architecture {name!r}{hint}; valid architectures: {', '.join(known)}"
                )
        if len(set(names)) != len(names):
            raise ValueError(f"architectures are listed twice: {names}")
        return names


def _architecture_field(schema: type[ArchitectureParams]) -> Any:
    return Field(default_factory=schema)


# models.<name> for every architecture in the registry, typed by its own schema, so each
# architecture's defaults and descriptions live once, in traindev.models.params.
ModelsParams = create_model(
    "ModelsParams",
    __base__=Section,
    __doc__="Hyperparameters per architecture (models.<name>); list a name in "
    "train.architectures to train it.",
    **{name: (schema, _architecture_field(schema)) for name, schema in ARCHITECTURE_PARAMS.items()},
)


class DiagnosisParams(Section):
    """When a gap between two rows of the bias / variance table matters: all three hold."""

    min_gap: Fraction = Field(0.005, description="A gap below this (absolute error) is noise.")
    relative_to_largest: Fraction = Field(
        0.25, description="... and so is one below this share of the largest gap."
    )
    confidence: float = Field(
        0.95,
        gt=0.0,
        lt=1.0,
        description="... and so is one whose bootstrap interval at this confidence reaches zero.",
    )
    bootstrap_replicates: int = Field(
        2000, ge=100, description="Bootstrap resamples behind each interval."
    )
    seed: int = Field(0, description="Seed of the bootstrap.")
    min_examples: int = Field(
        10,
        ge=1,
        description="A row of a table (pooled, per class or per domain) measured on fewer "
        "examples than this shows 'too few examples (n=...)' instead of an interval, and the "
        "gaps that touch it are not judged: a bootstrap of a handful of 0/1 outcomes "
        "collapses to a zero-width interval.",
    )


class ErrorWeightsParams(Section):
    """The notes' weighted error: some mistakes cost more than others.

    An example's weight is the largest weight among its class and its tags (1 when none
    applies); the weighted error is sum(weight * wrong) / sum(weight).
    """

    classes: dict[str, float] = Field(
        default_factory=dict, description='Class name -> weight (> 0), e.g. {"8": 5.0}.'
    )
    tags: dict[str, float] = Field(
        default_factory=dict,
        description='Tag -> weight (> 0); {"font": 2.0} matches any font=... tag.',
    )

    @field_validator("classes", "tags")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {key: weight for key, weight in value.items() if not weight > 0}
        if bad:
            raise ValueError(f"weights must be > 0, got {bad}")
        return value


class DetectionScoringParams(Section):
    """How a detector's outputs become detections when it is scored (task: detection)."""

    score_threshold: Fraction = Field(
        0.6,
        description="Operating p_c threshold (the notes: discard p_c <= 0.6): the detections "
        "behind precision, recall and the per-image error.",
    )
    nms_iou: Fraction = Field(
        0.5, description="Per-class non-max suppression drops a box at this IoU or above."
    )
    curve_threshold: Fraction = Field(
        0.01,
        description="Detections down to this p_c are kept for mAP's precision-recall curve, "
        "TIDE and label issues; must not exceed score_threshold.",
    )

    @model_validator(mode="after")
    def _curve_below_operating(self) -> DetectionScoringParams:
        if self.curve_threshold > self.score_threshold:
            raise ValueError(
                f"curve_threshold {self.curve_threshold} exceeds score_threshold "
                f"{self.score_threshold}: mAP would miss detections the error counts"
            )
        return self


class EvaluateParams(Section):
    """evaluate@<arch>: every split's errors, the five-row table and its diagnosis."""

    human_level_error: Fraction = Field(
        0.01, description="Proxy for Bayes error on the target (a careful human)."
    )
    batch_size: int = Field(1024, ge=1, description="Inference batch size.")
    train_sample_size: int = Field(
        20000,
        ge=1,
        description="Train error is measured in eval mode on at most this many training "
        "examples (seeded).",
    )
    seed: int = Field(0, description="Seed of the training sample.")
    error_weights: ErrorWeightsParams = Field(default_factory=ErrorWeightsParams)
    diagnosis: DiagnosisParams = Field(default_factory=DiagnosisParams)
    detection: DetectionScoringParams = Field(default_factory=DetectionScoringParams)


class ErrorSheetParams(Section):
    """The error-analysis sheets: dev examples to review by hand, with tag and property
    columns to tick."""

    sample_size: int = Field(
        100, ge=1, description="Misclassified dev examples per sheet (the notes: about 100)."
    )
    correct_sample_size: int = Field(
        50, ge=0, description="Correctly classified ones, to see label errors both ways."
    )
    seed: int = Field(0, description="Seed of the samples.")
    categories: list[str] = Field(
        default_factory=list,
        description="Your own columns to tick by hand, e.g. [smudged, cut_off, ambiguous].",
    )
    property_quantile: float = Field(
        0.1,
        gt=0.0,
        lt=0.5,
        description="dark / low_contrast / blurry / off_centre / small_ink flag this share of "
        "dev images (the worst); the train.* flags the same share of training images, so a "
        "property the whole target domain shares shows against training.",
    )
    neighbours: int = Field(
        3,
        ge=0,
        description="k: nearest training examples (penultimate features) shown beside each "
        "sheet row, with their domain and label; 0: none.",
    )
    neighbour_pool: int = Field(
        5000,
        ge=1,
        description="Training examples (seeded sample) searched for neighbours and measured "
        "for the train.* property flags.",
    )
    domain_grid_size: int = Field(
        8,
        ge=0,
        description="Images of each training domain and of dev shown side by side in the "
        "report; 0: no grid.",
    )
    review_dir: str = Field(
        "reviews",
        min_length=1,
        description="Reviewed sheets are read from <review_dir>/<arch>/errors.csv and correct.csv.",
    )
    require_review: bool = Field(
        False, description="true: a missing reviewed sheet is an error (a release gate)."
    )


class LabelIssueParams(Section):
    """Suspected label errors (cleanlab, on out-of-sample predictions)."""

    enabled: bool = Field(True, description="Look for label issues on dev and test.")
    worth_fixing_share: Fraction = Field(
        0.1,
        description="Fixing labels is worth it when label errors (suspects beyond the false "
        "alarms) explain this share of dev errors.",
    )
    max_model_error: Fraction = Field(
        0.15,
        description="Above this dev error, suspects are mostly the model's own mistakes.",
    )
    null_replicates: int = Field(
        100,
        ge=20,
        description="Simulated clean-label replicates that count the suspects a model of this "
        "error rate flags on correct labels (the false alarms the verdict discounts).",
    )
    confidence: float = Field(
        0.95,
        gt=0.5,
        lt=1.0,
        description="Confidence of the interval on the share of errors that are label errors; "
        "the advice needs the whole interval on one side of worth_fixing_share.",
    )
    train_folds: int = Field(
        0,
        ge=0,
        description="K > 1: K-fold out-of-sample check of the training labels (logistic "
        "regression on penultimate features). Off: it costs a fit per fold, and the features "
        "were learned from those very labels.",
    )
    train_max_examples: int = Field(
        20000, ge=10, description="Training examples the K-fold check uses at most."
    )


class MismatchParams(Section):
    """A classifier telling train-dev from dev on penultimate features: how far apart the
    training and target distributions are, and which dev images are most unlike training."""

    enabled: bool = Field(True, description="Run the data-mismatch classifier.")
    folds: int = Field(5, ge=2, description="Cross-validation folds.")
    max_per_split: int = Field(
        5000, ge=10, description="Train-dev and dev examples fed to the classifier, each."
    )
    gallery_size: int = Field(
        16,
        ge=0,
        description="Examples per mismatch gallery: the dev examples most unlike the training "
        "distribution, and per train-dev domain its examples most like dev and least like it.",
    )


class AnalyzeParams(Section):
    """analyze@<arch>: error-analysis sheets, label issues, data mismatch."""

    errors: ErrorSheetParams = Field(default_factory=ErrorSheetParams)
    label_issues: LabelIssueParams = Field(default_factory=LabelIssueParams)
    mismatch: MismatchParams = Field(default_factory=MismatchParams)


class ThresholdParams(Section):
    """A satisficing metric: `metric` must be at most `max` and/or at least `min`."""

    metric: str = Field(
        min_length=1,
        description="A metric name, e.g. latency_ms, parameters, flops_per_example, dev.error.",
    )
    max: float | None = Field(None, description="Upper bound; null: none.")
    min: float | None = Field(None, description="Lower bound; null: none.")

    @model_validator(mode="after")
    def _has_bound(self) -> ThresholdParams:
        if self.max is None and self.min is None:
            raise ValueError(f"threshold on {self.metric!r} needs max, min or both")
        return self


# What the pipeline learns (`task` in params); traindev.tasks.specs maps each name to its
# package and says what is not wired yet.
TaskName = Literal["classification", "detection", "segmentation", "verification"]

# The fields select.registered_model may name, filled from the rest of params.
REGISTERED_MODEL_FIELDS = ("task", "target_domain")


class SelectParams(Section):
    """The champion: one optimizing metric, every satisficing threshold must hold."""

    optimizing: str = Field(
        "dev.error",
        min_length=1,
        description="The one metric to optimize, e.g. dev.error, dev.f1 (goal maximize), "
        "dev.weighted_error.",
    )
    goal: Literal["minimize", "maximize"] = Field(
        "minimize", description="Whether the optimizing metric is better low or high."
    )
    satisficing: list[ThresholdParams] = Field(
        default_factory=lambda: [
            ThresholdParams(metric="latency_ms", max=100),
            ThresholdParams(metric="parameters", max=50_000_000),
        ],
        description="Thresholds every candidate must meet; the defaults: batch-1 inference "
        "under 100 ms on the evaluation device, at most 50 million parameters. Latency "
        "(latency_ms) depends on the machine's load, so only the run record "
        "reports/runs/selection.json applies it; parameters and flops_per_example hold "
        "under any load.",
    )
    include_earlier_runs: bool = Field(
        True,
        description="Earlier MLflow runs trained on the same split (same manifest hash) "
        "compete too.",
    )
    registered_model: str = Field(
        "traindev-{task}-{target_domain}",
        min_length=1,
        description="MLflow registered model name; {task} (classification or multilabel) and "
        "{target_domain} (split.target_domain) are filled in, so each problem keeps its own "
        "champion: switching the target domain never moves another problem's alias.",
    )
    alias: str = Field(
        "champion",
        min_length=1,
        description="Alias the winner gets: models:/<registered_model>@<alias>.",
    )

    @field_validator("registered_model")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        unknown = sorted(fields - set(REGISTERED_MODEL_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown field {{{unknown[0]}}}; use {{task}} and/or {{target_domain}}"
            )
        if any(char in value.replace("{", "").replace("}", "") for char in "/:@"):
            raise ValueError("MLflow model names cannot hold '/', ':' or '@'")
        return value

    @field_validator("alias")
    @classmethod
    def _alias_is_a_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ValueError("an alias holds letters, digits, '_' and '-' only")
        return value


class ReportParams(Section):
    """The HTML and Markdown report (reports/report.html, reports/report.md)."""

    title: str = Field(
        "traindev report - handwritten digits, real target and synthetic source",
        description="The report's heading.",
    )
    augmentation_examples: int = Field(
        4,
        ge=1,
        le=16,
        description="Training images in the augmentation preview (with train.augment on).",
    )


class TorchrunParams(Section):
    """How the `reproduce` flow launches training stages (DDP); 1 x 1 is a plain
    `dvc repro`."""

    nnodes: int = Field(1, ge=1, description="Machines.")
    nproc_per_node: int | Literal["gpu"] = Field(
        1, description="Processes per machine; gpu: one per visible GPU."
    )
    rdzv_endpoint: str | None = Field(
        None, description="host:port of node 0, needed when nnodes > 1."
    )

    @property
    def distributed(self) -> bool:
        return self.nnodes > 1 or self.nproc_per_node != 1

    @model_validator(mode="after")
    def _endpoint_for_many_nodes(self) -> TorchrunParams:
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ValueError("rdzv_endpoint (host:port of node 0) is needed when nnodes > 1")
        return self


class OrchestrationParams(Section):
    """Prefect (pipeline/): retries and time limits per stage; never read by a DVC stage."""

    retries: int = Field(1, ge=0, description="Retries of a failed stage.")
    retry_delay_seconds: float = Field(5.0, ge=0.0, description="Wait before a retry.")
    stage_timeout_seconds: float = Field(
        3600.0, gt=0.0, description="A stage running longer is stopped."
    )
    torchrun: TorchrunParams = Field(default_factory=TorchrunParams)


class SweepParams(Section):
    """Random search as course 2, week 3 teaches it: random points, the right scale per knob,
    coarse then fine. Read by the Prefect `sweep` flow only (pipeline/sweep.py)."""

    seed: int = Field(0, description="Seed of the sampled points.")
    trials: int = Field(
        8, ge=1, description="The coarse round: random points, each a `dvc exp run`."
    )
    fine_trials: int = Field(
        4, ge=0, description="The fine round, around the best coarse trials; 0: none."
    )
    fine_from_best: int = Field(
        2, ge=1, description="How many of the best coarse trials define the fine region."
    )
    shrink: float = Field(
        0.25,
        gt=0.0,
        le=1.0,
        description="The fine region's margin, as a share of each knob's range.",
    )
    parallelism: int = Field(2, ge=1, description="Trials at once.")
    task_runner: Literal["threads", "dask"] = Field(
        "threads", description="threads, or dask (needs prefect-dask)."
    )
    dask_address: str | None = Field(
        None, description="A Dask scheduler, tcp://host:8786; null: a local cluster."
    )
    space: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {
            "train.lr": {"scale": "log", "low": 1.0e-4, "high": 3.0e-2},
            "train.l2": {"scale": "log", "low": 1.0e-6, "high": 1.0e-2},
            "train.beta1": {"scale": "one_minus_log", "low": 0.8, "high": 0.99},
        },
        description="Dotted params key -> {scale: log | one_minus_log | linear | int | choice, "
        "low, high, choices}; the notes: a log scale for lr and L2, 1 - beta on a log scale.",
    )


class Params(Section):
    """The whole params.yaml: one section per stage; each stage re-runs only when its own
    section changes."""

    task: TaskName = Field(
        "classification",
        description="What the pipeline learns: classification (one softmax over label, or "
        "train.multilabel's yes / no labels) or detection (boxes in a box table); "
        "segmentation and verification come through the same seam (docs/tasks.md). "
        "`traindev check` refuses a task the pipeline cannot run whole yet.",
    )
    ingest: IngestParams = Field(default_factory=IngestParams)
    synthesize: SynthesizeParams = Field(default_factory=SynthesizeParams)
    canvases: CanvasParams = Field(default_factory=CanvasParams)
    split: SplitParams = Field(default_factory=SplitParams)
    train: TrainParams = Field(default_factory=TrainParams)
    models: ModelsParams = Field(default_factory=ModelsParams)  # type: ignore[valid-type]
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)
    analyze: AnalyzeParams = Field(default_factory=AnalyzeParams)
    select: SelectParams = Field(default_factory=SelectParams)
    report: ReportParams = Field(default_factory=ReportParams)
    orchestration: OrchestrationParams = Field(default_factory=OrchestrationParams)
    sweep: SweepParams = Field(default_factory=SweepParams)

    @model_validator(mode="after")
    def _target_domain_is_produced(self) -> Params:
        """Catch a misspelt target domain before ingest runs, not after training data exists.

        A folder or manifest names its domains in the data; only `ingest.domains`, when given,
        lets this check them here (else the split stage does, naming the domains it found).
        """
        synthetic = [self.synthesize.domain] if self.synthesize.count else []
        if self.ingest.source == "sklearn_digits":
            real = [self.ingest.domain]
        elif self.ingest.domains:
            real = list(self.ingest.domains)
        else:
            return self
        domains = real + synthetic
        if set(real) & set(synthetic):
            raise ParamsError(
                f"synthesize.domain {synthetic[0]!r} is also a real domain; the synthetic "
                "source must be a domain of its own so dev/test stay real target data"
            )
        if self.split.target_domain not in domains:
            raise ParamsError(
                f"split.target_domain: {self.split.target_domain!r} is not produced by any "
                f"stage{did_you_mean(self.split.target_domain, domains)}; "
                f"domains: {', '.join(domains)}"
            )
        return self

    @model_validator(mode="after")
    def _overlay_never_composites_the_target(self) -> Params:
        """Composites of target images would carry dev/test examples into training."""
        overlay = self.synthesize.overlay
        if self.synthesize.source != "overlay" or not self.synthesize.count:
            return self
        if self.split.target_domain in overlay.foreground_domains:
            raise ParamsError(
                f"synthesize.overlay.foreground_domains lists the target domain "
                f"{self.split.target_domain!r}: its dev and test images would reach training as "
                "composites; list only clean source domains"
            )
        return self

    def registered_model(self) -> str:
        """select.registered_model with its fields filled in: the problem's own model name.

        Characters MLflow model URIs cannot carry ('/', ':', '@', spaces, ...) become '-'.
        """
        values = {
            # a multi-label model's pooled label error is no baseline for a softmax's
            "task": "multilabel" if self.train.multilabel else self.task,
            "target_domain": self.split.target_domain,
        }
        safe = {key: re.sub(r"[^A-Za-z0-9._-]+", "-", value) for key, value in values.items()}
        return self.select.registered_model.format(**safe)

    def model_params(self, name: str) -> ArchitectureParams:
        """The validated hyperparameters of architecture `name` (models.<name>)."""
        return getattr(self.models, name)
