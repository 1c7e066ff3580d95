"""Typed, validated params.yaml.

Every stage validates the whole file before doing any work, so a typo anywhere
fails fast with the key's dotted path and the nearest valid key, but a stage
only *uses* its own section (DVC tracks exactly that section for it).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    ValidationError,
    field_validator,
    model_validator,
)

from traindev.models.params import ARCHITECTURE_PARAMS

DEFAULT_PARAMS_PATH = Path("params.yaml")

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
# A split size below 1 is a fraction of its pool; 1 or more is a count of examples.
SplitSize = Annotated[float, Field(ge=0.0)]


class ParamsError(ValueError):
    """A params.yaml problem, worded for the user: which key, what is wrong, how to fix it."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestParams(Section):
    """Where the real examples come from; folder / manifest are the user's own images."""

    source: Literal["sklearn_digits", "folder", "manifest"] = "sklearn_digits"
    # sklearn_digits: the domain written into the manifest; manifest: rows without a domain.
    domain: str = Field("handwritten", min_length=1)
    root: str | None = None  # folder: <root>/<domain>/<class>/<file>; manifest: base of paths
    manifest: str | None = None  # a .csv or .parquet file: path, label, domain, tags, extras
    image_size: tuple[int, int] = (32, 32)  # [height, width] every image is decoded to
    channels: Literal[1, 3] = 3  # 1: grey (luma), 3: RGB
    resize: Literal["stretch", "letterbox", "centre_crop"] = "letterbox"
    on_bad_input: Literal["fail", "skip"] = "fail"  # skip: left out, listed in skipped.csv
    classes: list[str] | None = None  # ordered class list; default: the sorted label names
    domains: list[str] | None = None  # domains that must be present
    workers: int | Literal["auto"] = "auto"  # decoding processes

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


class BlurParams(Section):
    """Camera blur (focus, shake): a Gaussian of `sigma` output pixels, with probability p."""

    p: Fraction = 0.0
    sigma: NonNegativeRange = (0.5, 1.5)


class LowLightParams(Section):
    """A dim scene: intensity -> gain * intensity ** gamma (gamma > 1 darkens the mid-tones)."""

    p: Fraction = 0.0
    gain: FractionRange = (0.3, 0.9)
    gamma: PositiveRange = (1.0, 2.2)


class JpegParams(Section):
    """Re-encoding as JPEG at a quality drawn from the range (1 worst, 100 best)."""

    p: Fraction = 0.0
    quality: Annotated[tuple[Quality, Quality], AfterValidator(_ordered_pair)] = (20, 80)


class GaussianNoiseParams(Section):
    """Sensor read noise: additive Gaussian, sigma a share of full scale."""

    p: Fraction = 0.0
    sigma: FractionRange = (0.01, 0.05)


class ShotNoiseParams(Section):
    """Photon (Poisson) noise: `photons` expected at full intensity; fewer is noisier."""

    p: Fraction = 0.0
    photons: PositiveRange = (20.0, 200.0)


class OverlayParams(Section):
    """`synthesize.source: overlay`: clean foregrounds composited on noise-source backgrounds.

    The image analogue of adding car noise to clean speech (README, Synthesis).
    """

    # A store directory (e.g. data/ingested) or a folder <foregrounds>/<class>/<file>.
    foregrounds: str = "data/ingested"
    # With a store: the clean domain(s) to composite. Never the target domain: its dev and test
    # images would leak into training as composites.
    foreground_domains: list[str] = Field(default_factory=list)
    backgrounds: str = "data/raw/backgrounds"  # any images, any size, any depth below
    # folder foregrounds: decoded to this [height, width]
    image_size: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = (32, 32)
    channels: Literal[1, 3] = 3  # folder foregrounds: 1 grey, 3 RGB
    # mask: the foreground's brightness is its opacity (bright ink stays on top);
    # mix: a plain weighted sum of the two images, like mixing two sounds.
    blend: Literal["mask", "mix"] = "mask"
    background_weight: FractionRange = (0.2, 0.6)  # 0: clean foreground, 1: only background
    blur: BlurParams = BlurParams()
    low_light: LowLightParams = LowLightParams()
    jpeg: JpegParams = JpegParams()
    gaussian_noise: GaussianNoiseParams = GaussianNoiseParams()
    shot_noise: ShotNoiseParams = ShotNoiseParams()


class DiversityParams(Section):
    """Synthesis from a narrow pool overfits to that pool; below this, the stage warns."""

    # exp(entropy) of the fonts' / backgrounds' shares: the number of equally used sources
    # the set is worth.
    min_effective_sources: float = Field(5.0, ge=1.0)


class StrokesParams(Section):
    """Pen-drawn digits: skeleton templates (README, Synthesis) drawn in a writer's style.

    Each range is drawn per image and tagged. `share` of `synthesize.count` is drawn this way
    when `synthesize.source` is fonts (the rest from fonts); `source: strokes` draws them all.
    """

    share: Fraction = 0.0  # with source: fonts, this share of the images is pen-drawn
    height: PositiveRange = (31.0, 32.0)  # ink height, canvas pixels (the real digits fill 32)
    aspect: PositiveRange = (0.5, 0.8)  # skeleton width / height before the slant
    slant_degrees: Range = (-20.0, 15.0)  # shear; + leans the top right
    rotation_degrees: Range = (-5.0, 5.0)
    pen_width: PositiveRange = (2.5, 5.0)  # canvas pixels (the real bitmaps' strokes are thick)
    # The pen is instead fitted per image so ink covers this share of the canvas (optdigits:
    # 0.25..0.36 for 90% of the digits, whatever the class); [0, 0]: pen_width decides.
    ink_share: FractionRange = (0.25, 0.36)
    jitter: NonNegativeRange = (0.0, 0.08)  # control-point shift (std), share of the height
    # spline tangent scale: 1 passes smoothly through the points, 0 draws straight segments
    curvature: NonNegativeRange = (0.6, 1.0)
    elastic_alpha: NonNegativeRange = (0.0, 2.0)  # elastic warp on top: largest shift, px
    elastic_sigma: float = Field(3.0, gt=0.0)  # elastic field smoothness, canvas px
    offset: IntRange = (-1, 1)  # x / y shift of the ink box's centre, canvas pixels


class SynthesizeParams(Section):
    seed: int = 0
    count: int = Field(6000, ge=0)  # 0: no synthetic domain (your own data brings its own)
    domain: str = Field("fonts", min_length=1)
    source: Literal["fonts", "strokes", "overlay"] = "fonts"  # fonts may mix in strokes.share
    # File names in matplotlib's bundled font folder, or absolute paths to .ttf/.otf files.
    fonts: list[str] = Field(min_length=1)
    canvas: int = Field(32, ge=8, description="side of the high-resolution render, a multiple of 8")
    font_size: IntRange = (28, 32)
    offset: IntRange = (-2, 2)
    rotation_degrees: Range = (-10.0, 10.0)
    stroke_width: IntRange = (0, 2)  # extra pen width, px; negative: a finer pen
    ink_threshold: int = Field(128, ge=1, le=255)
    # The knobs that make printed digits look handwritten; all off by default (README, Synthesis).
    slant_degrees: Range = (0.0, 0.0)  # horizontal shear; + leans right, like italics
    stroke_variation: NonNegativeRange = (0.0, 0.0)  # pen pressure: +- canvas px along the stroke
    elastic_alpha: NonNegativeRange = (0.0, 0.0)  # elastic warp: largest shift, canvas px
    elastic_sigma: float = Field(4.0, gt=0.0)  # elastic field smoothness, canvas px
    grid_distortion: NonNegativeRange = (0.0, 0.0)  # grid warp: largest node shift, canvas px
    grid_cells: int = Field(4, ge=1)  # grid warp: cells per side
    ink_threshold_jitter: IntRange = (0, 0)  # added to ink_threshold per image
    width_scale: PositiveRange = (1.0, 1.0)  # horizontal stretch of the glyph; 1: the font's
    strokes: StrokesParams = StrokesParams()
    overlay: OverlayParams = OverlayParams()
    diversity: DiversityParams = DiversityParams()

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


class SourceDomainParams(Section):
    """How much of one source (non-target) domain joins the training pool."""

    fraction: Fraction = 1.0  # share of the domain's examples, chosen by hash
    cap: int | None = Field(None, ge=0)  # then at most this many (exact)


class NearDuplicateParams(Section):
    """Drop train images whose perceptual hash is within `max_distance` bits of a dev/test one."""

    enabled: bool = False
    max_distance: int = Field(4, ge=0, le=10)  # Hamming distance between 64-bit pHashes


class SplitParams(Section):
    seed: int = 0
    target_domain: str = Field("handwritten", min_length=1)
    dev: SplitSize = 0.25
    test: SplitSize = 0.25
    target_to_train: Fraction = 1.0
    train_dev: SplitSize = 0.1
    # true: exact class shares per (domain, class); false: additions never move rows (fractions)
    stratify: bool = True
    sources: dict[str, SourceDomainParams] = Field(default_factory=dict)  # default: all of each
    # The dev / test confidence check: an error rate near this, differences of at least that.
    expected_error: float = Field(0.03, gt=0.0, lt=1.0)
    min_resolvable_difference: float = Field(0.01, gt=0.0, lt=1.0)
    near_duplicates: NearDuplicateParams = NearDuplicateParams()

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

    # architecture -> a checkpoint file (data/models/<arch>/model.pt) or an MLflow run,
    # "runs:/<run_id>" or "models:/<name>@<alias>"; others start from random initialization.
    init_from: dict[str, str] = Field(default_factory=dict)
    # Train only the last N parameterized layers (N=1: the new output layer); "all": fine-tune.
    trainable_layers: int | Literal["all"] = "all"
    # With only the output layer trainable, compute the frozen body's activations once.
    cache_features: bool = False

    @field_validator("trainable_layers")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if value != "all" and int(value) < 1:
            raise ValueError("must be 'all' or a number of layers >= 1")
        return value


class ScheduleParams(Section):
    """Learning-rate decay as course 2, week 2 lists it, plus cosine, all after a warm-up.

    `epoch_num` counts from 1 in the notes' formulas, so the first epoch of
    `inverse_time` already runs at lr / (1 + decay_rate).
    """

    name: Literal["constant", "inverse_time", "exponential", "inverse_sqrt", "step", "cosine"] = (
        "constant"
    )
    decay_rate: float = Field(1.0, ge=0.0)  # inverse_time: lr / (1 + decay_rate * epoch_num)
    base: float = Field(0.95, gt=0.0, le=1.0)  # exponential: lr * base ** epoch_num
    k: float = Field(1.0, gt=0.0)  # inverse_sqrt: lr * k / sqrt(epoch_num)
    step_epochs: int = Field(5, ge=1)  # step: multiply by `gamma` every step_epochs epochs
    gamma: float = Field(0.5, gt=0.0, le=1.0)
    min_lr: float = Field(0.0, ge=0.0)  # cosine: the floor it anneals to
    warmup_epochs: float = Field(0.0, ge=0.0)  # linear ramp from ~0 to lr, per step


class EarlyStoppingParams(Section):
    """Stop when dev error has not improved for `patience` epochs (off: see the README)."""

    enabled: bool = False
    patience: int = Field(3, ge=1)
    min_delta: float = Field(0.0, ge=0.0)  # an improvement smaller than this does not count
    restore_best: bool = True  # keep the weights of the best dev epoch, not the last


class CheckpointParams(Section):
    """Per-epoch training state for resuming a killed run; not a DVC output."""

    enabled: bool = True
    directory: str = Field("checkpoints", min_length=1)  # checkpoints/<arch>/last.pt
    resume: bool = True  # a matching checkpoint (same params, data, world size) is resumed


class AugmentParams(Section):
    """Data augmentation of the train split (traindev.data.augmentation): batched on the
    training device, or per image in DataLoader workers (backend).

    Off by default: on the embedded digits it does not lower the selected model's dev error
    (README, Augmentation).
    """

    enabled: bool = False
    preset: Literal["notes", "none"] = "notes"  # notes: the notes' list, less mirroring
    # albumentations transforms, each {name: <class>, p: <probability>, <its arguments>}; one
    # named like a preset transform tunes that transform's arguments, the others come after.
    transforms: list[dict[str, Any]] = Field(default_factory=list)
    # Mirrors, transposes and right-angle turns change a digit's class: refused unless true.
    allow_label_changing: bool = False
    # auto: batched (whole batches in torch, on the device) when every declared transform has
    # a batched translation, else albumentations per image in DataLoader workers.
    backend: Literal["auto", "batched", "albumentations"] = "auto"
    # Offline materialization (the `augment` stage): this many augmented copies of the train
    # split written once to data/augmented; training epoch e reads copy (e - 1) mod N instead
    # of augmenting on the fly. For transforms too slow for the fly. 0: on the fly.
    offline_copies: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _offline_needs_augmentation(self) -> AugmentParams:
        if self.offline_copies and not self.enabled:
            raise ValueError(
                f"offline_copies: {self.offline_copies} needs enabled: true (there is no "
                "augmentation to materialize); set offline_copies: 0 or enable augmentation"
            )
        return self


class TrainParams(Section):
    seed: int = 0
    architectures: list[str] = Field(min_length=1)
    epochs: int = Field(10, ge=1)
    # The global mini-batch: 1 is stochastic gradient descent, "full" (or anything >= the
    # training set) is batch gradient descent. Under torchrun it is split across processes.
    batch_size: int | Literal["full"] = 64
    optimizer: Literal["sgd", "momentum", "rmsprop", "adam", "adamw"] = "adam"
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    beta1: float = Field(0.9, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)
    epsilon: float = Field(1e-8, gt=0.0)
    l2: float = Field(0.0, ge=0.0)
    schedule: ScheduleParams = ScheduleParams()
    clip_grad_norm: float | None = Field(None, gt=0.0)  # None: no clipping
    early_stopping: EarlyStoppingParams = EarlyStoppingParams()
    # Multi-task learning: names of manifest columns `task.<name>` holding 1 / 0 / missing.
    # Empty: one softmax over `label`. Set: a sigmoid per task, missing labels masked out.
    tasks: list[str] = Field(default_factory=list)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    deterministic: bool = True
    # auto: bf16 autocast on CUDA (fp16 + gradient scaling where bf16 is unsupported), fp32
    # elsewhere; fp32 / bf16 / fp16 force it.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = True  # convolutional models on CUDA only
    compile: bool = False  # torch.compile the model (first epoch pays the compilation)
    # DataLoader workers for splits streamed from disk; auto sizes them to the machine.
    num_workers: int | Literal["auto"] = Field(0)
    checkpoint: CheckpointParams = CheckpointParams()
    progress: Literal["auto", "always", "never"] = "auto"  # auto: only on a terminal, not in CI
    # Splits up to this size are held as one tensor on the device; larger ones stream
    # from the memory-mapped pixel store through a DataLoader.
    in_memory_max_mb: float = Field(512.0, ge=0.0)
    transfer: TransferParams = TransferParams()
    augment: AugmentParams = AugmentParams()

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

    @field_validator("tasks")
    @classmethod
    def _distinct_tasks(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"task names must be distinct, got {names}")
        for name in names:  # they become MLflow metric names: final.dev.task_error.<task>
            if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                raise ValueError(
                    f"task name {name!r} may use only letters, digits, '_' and '-' "
                    "(the manifest column is task.<name>)"
                )
        return names

    @field_validator("architectures")
    @classmethod
    def _known_architectures(cls, names: list[str]) -> list[str]:
        known = sorted(ARCHITECTURE_PARAMS)
        for name in names:
            if name not in ARCHITECTURE_PARAMS:
                hint = _nearest(name, known)
                raise ValueError(
                    f"unknown architecture {name!r}{hint}; valid architectures: {', '.join(known)}"
                )
        if len(set(names)) != len(names):
            raise ValueError(f"architectures are listed twice: {names}")
        return names


class DiagnosisParams(Section):
    # A gap "matters" when it is at least this large in absolute error ...
    min_gap: Fraction = 0.005
    # ... and at least this share of the largest gap ...
    relative_to_largest: Fraction = 0.25
    # ... and its bootstrap interval at this confidence lies above zero (not noise).
    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    bootstrap_replicates: int = Field(2000, ge=100)
    seed: int = 0


class ErrorWeightsParams(Section):
    """The notes' weighted error: some mistakes cost more than others.

    An example's weight is the largest weight among its class and its tags (1 when none
    applies); the weighted error is sum(weight * wrong) / sum(weight).
    """

    classes: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, float] = Field(default_factory=dict)

    @field_validator("classes", "tags")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {key: weight for key, weight in value.items() if not weight > 0}
        if bad:
            raise ValueError(f"weights must be > 0, got {bad}")
        return value


class EvaluateParams(Section):
    human_level_error: Fraction = 0.01
    batch_size: int = Field(1024, ge=1)
    # Train error is measured in eval mode on at most this many training examples (seeded).
    train_sample_size: int = Field(20000, ge=1)
    seed: int = 0
    error_weights: ErrorWeightsParams = ErrorWeightsParams()
    diagnosis: DiagnosisParams = DiagnosisParams()


class ErrorSheetParams(Section):
    sample_size: int = Field(100, ge=1)  # misclassified dev examples to review
    correct_sample_size: int = Field(50, ge=0)  # correctly classified ones, for label errors
    seed: int = 0
    # Extra category columns to tick by hand (the notes' "great cats", "blurry", ...).
    categories: list[str] = Field(default_factory=list)
    # dark / low_contrast / blurry / off_centre / small_ink flag this share of dev images.
    property_quantile: float = Field(0.1, gt=0.0, lt=0.5)
    # Where reviewed sheets are read from: <review_dir>/<arch>/errors.csv and correct.csv.
    review_dir: str = Field("reviews", min_length=1)
    # true: a missing reviewed sheet is an error (e.g. a release gate), not a hint.
    require_review: bool = False


class LabelIssueParams(Section):
    enabled: bool = True
    # Fixing labels is "worth it" when suspected label errors explain this share of dev errors.
    worth_fixing_share: Fraction = 0.1
    # Above this dev error the model is too weak for its disagreements to point at labels.
    max_model_error: Fraction = 0.15
    # K-fold out-of-sample predictions on train (logistic regression on the model's
    # penultimate features) to find systematic training-label errors. Off: it costs a fit
    # per fold and the features were learned from those very labels.
    train_folds: int = Field(0, ge=0)
    train_max_examples: int = Field(20000, ge=10)


class MismatchParams(Section):
    enabled: bool = True
    folds: int = Field(5, ge=2)
    max_per_split: int = Field(5000, ge=10)  # train-dev and dev examples fed to the classifier
    gallery_size: int = Field(16, ge=0)  # dev examples most unlike the training distribution


class AnalyzeParams(Section):
    errors: ErrorSheetParams = ErrorSheetParams()
    label_issues: LabelIssueParams = LabelIssueParams()
    mismatch: MismatchParams = MismatchParams()


class ThresholdParams(Section):
    """A satisficing metric: `metric` must be at most `max` and/or at least `min`."""

    metric: str = Field(min_length=1)
    max: float | None = None
    min: float | None = None

    @model_validator(mode="after")
    def _has_bound(self) -> ThresholdParams:
        if self.max is None and self.min is None:
            raise ValueError(f"threshold on {self.metric!r} needs max, min or both")
        return self


class SelectParams(Section):
    # The one metric to optimize, e.g. dev.error, dev.f1, dev.weighted_error.
    optimizing: str = Field("dev.error", min_length=1)
    goal: Literal["minimize", "maximize"] = "minimize"
    # Every threshold must hold, e.g. {metric: latency_ms, max: 100}.
    satisficing: list[ThresholdParams] = Field(default_factory=list)
    # Also consider earlier MLflow runs trained on the same split (same manifest hash).
    include_earlier_runs: bool = True
    registered_model: str = Field("traindev", min_length=1)
    alias: str = Field("champion", min_length=1)


class ReportParams(Section):
    title: str = "traindev report"
    augmentation_examples: int = Field(4, ge=1, le=16)  # training images in the preview grid


class TorchrunParams(Section):
    """How the `reproduce` flow launches training stages; 1 x 1 is a plain `dvc repro`."""

    nnodes: int = Field(1, ge=1)
    nproc_per_node: int | Literal["gpu"] = 1  # "gpu": one process per visible GPU
    rdzv_endpoint: str | None = None  # host:port of node 0 when nnodes > 1

    @property
    def distributed(self) -> bool:
        return self.nnodes > 1 or self.nproc_per_node != 1

    @model_validator(mode="after")
    def _endpoint_for_many_nodes(self) -> TorchrunParams:
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ValueError("rdzv_endpoint (host:port of node 0) is needed when nnodes > 1")
        return self


class OrchestrationParams(Section):
    retries: int = Field(1, ge=0)
    retry_delay_seconds: float = Field(5.0, ge=0.0)
    stage_timeout_seconds: float = Field(3600.0, gt=0.0)
    torchrun: TorchrunParams = TorchrunParams()


class SweepParams(Section):
    """Random search as course 2, week 3 teaches it: random points, the right scale per knob,
    coarse then fine. Read by the Prefect `sweep` flow only (pipeline/sweep.py)."""

    seed: int = 0
    trials: int = Field(8, ge=1)  # the coarse round
    fine_trials: int = Field(4, ge=0)  # the fine round, around the best coarse trials
    fine_from_best: int = Field(2, ge=1)  # how many of the best coarse trials define the region
    shrink: float = Field(0.25, gt=0.0, le=1.0)  # the fine region's margin, share of the range
    parallelism: int = Field(2, ge=1)  # trials at once
    task_runner: Literal["threads", "dask"] = "threads"
    dask_address: str | None = None  # tcp://scheduler:8786; None: a local Dask cluster
    # dotted params key -> {scale: log | one_minus_log | linear | int | choice, low, high, choices}
    space: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Params(Section):
    ingest: IngestParams
    synthesize: SynthesizeParams
    split: SplitParams
    train: TrainParams
    models: dict[str, dict[str, Any]]
    evaluate: EvaluateParams
    analyze: AnalyzeParams = AnalyzeParams()
    select: SelectParams = SelectParams()
    report: ReportParams = ReportParams()
    orchestration: OrchestrationParams = OrchestrationParams()
    sweep: SweepParams = SweepParams()

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
                f"stage{_nearest(self.split.target_domain, domains)}; domains: {', '.join(domains)}"
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

    @model_validator(mode="after")
    def _models_match_registry(self) -> Params:
        for name in self.models:
            if name not in ARCHITECTURE_PARAMS:
                known = sorted(ARCHITECTURE_PARAMS)
                raise ParamsError(
                    f"models.{name}: unknown architecture{_nearest(name, known)}; "
                    f"valid architectures: {', '.join(known)}"
                )
        for name in self.train.architectures:
            if name not in self.models:
                raise ParamsError(
                    f"train.architectures names {name!r} but models.{name} is missing; "
                    f"add a models.{name} section (it may be empty: {{}})"
                )
        return self

    def model_params(self, name: str) -> BaseModel:
        """The validated hyperparameters of architecture `name`."""
        return ARCHITECTURE_PARAMS[name].model_validate(self.models.get(name) or {})


def load_params(path: Path | str = DEFAULT_PARAMS_PATH) -> Params:
    """Read and validate params.yaml, raising ParamsError with one line per problem."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found (run from the project root)")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level")
    return validate_params(raw, source=str(path))


def validate_params(raw: dict[str, Any], source: str = "params.yaml") -> Params:
    try:
        params = Params.model_validate(raw)
        for name, section in params.models.items():
            _validate_section(ARCHITECTURE_PARAMS[name], section or {}, f"models.{name}", source)
        if params.train.augment.transforms:  # albumentations is imported only when needed
            from traindev.data.augmentation import validate_augment

            validate_augment(params.train.augment)
        return params
    except ValidationError as exc:
        raise ParamsError(_format_errors(exc, source)) from None
    except ParamsError as exc:
        raise ParamsError(f"{source}: {exc}") from None


def _validate_section(schema: type[BaseModel], data: Any, prefix: str, source: str) -> None:
    try:
        schema.model_validate(data)
    except ValidationError as exc:
        raise ParamsError(_format_errors(exc, source, prefix)) from None


def _format_errors(exc: ValidationError, source: str, prefix: str = "") -> str:
    lines = [f"{source}: invalid params"]
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join(([prefix] if prefix else []) + loc)
        if error["type"] == "extra_forbidden":
            valid = _valid_keys(error["loc"][:-1], prefix)
            lines.append(f"  {key}: unknown key{_nearest(loc[-1], valid)}")
        elif error["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        else:
            message = error["msg"].removeprefix("Value error, ")
            got = error.get("input")
            shown = "" if isinstance(got, dict) or len(repr(got)) > 80 else f" (got {got!r})"
            lines.append(f"  {key}: {message}{shown}" if key else f"  {message}")
    return "\n".join(lines)


def _valid_keys(loc: tuple[Any, ...], prefix: str) -> list[str]:
    """Field names of the schema at `loc`, walking the Params model tree."""
    model: Any = ARCHITECTURE_PARAMS[prefix.split(".")[1]] if prefix else Params
    for part in loc:
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _nearest(word: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
