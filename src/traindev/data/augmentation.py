"""Training-time data augmentation: albumentations pipelines declared in params, checked there.

The notes' list (mirroring, random cropping, rotation, shearing, local warping, colour shifting,
PCA colour augmentation) becomes the `notes` preset; `train.augment.transforms` names any
albumentations transform with its arguments. Everything is validated against albumentations
itself, because albumentations 2.x only *warns* about an unknown or renamed (1.x) argument and
then silently uses its default: here that is a ParamsError naming the key.

Two backends run the same declared pipeline (`train.augment.backend`): albumentations itself,
one image at a time in DataLoader workers (`Augmenter`), or a batched torch translation of the
transforms on the training device (`traindev.data.batch_augmentation`), which `auto` picks
whenever every transform has one: on small images albumentations' per-image Python overhead
makes training input-bound.

Pixels stay in the store's contract (uint8 in [0, pixel_max], 16 for the digits) until a batch
is augmented: it is scaled to float32 in [0, 1] (albumentations' float range), augmented, and
handed on as float32 in [0, 1], which is what the model consumes anyway. It is not rounded back
to the store's 17 grey levels, which would erase every shift smaller than 1/16.

Each image is augmented from its own seed (train.seed, epoch, store row), so an epoch's
augmented images are the same for any number of DataLoader workers, any batch size, any
number of torchrun processes, and on every run.

albumentations is imported lazily (about 2 s): params without transforms, and a report with
augmentation off, never pay for it.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import random
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from traindev.config import AugmentParams, ParamsError

if TYPE_CHECKING:
    from traindev.data.batch_augmentation import BatchAugmenter
    from traindev.data.store import ImageStore

WHERE = "train.augment"
NOMINAL_SHAPE = (3, 32, 32)  # (C, H, W) for checking params before any image is read

# Transforms that turn an image into another class's image for many tasks: a mirrored 2 or 7
# is not a 2 or 7 (and a 6 turned upside down is a 9), though a mirrored cat is still a cat.
LABEL_CHANGING = frozenset(
    {
        "HorizontalFlip",
        "VerticalFlip",
        "Transpose",
        "RandomRotate90",
        "D4",
        "SquareSymmetry",
        "CubicSymmetry",
        "RandomGridShuffle",
    }
)
# Classes albumentations exports that are not usable here, and why.
NOT_USABLE = {
    "BaseCompose": "an abstract base class",
    "BasicTransform": "an abstract base class",
    "DualTransform": "an abstract base class",
    "ImageOnlyTransform": "an abstract base class",
    "Transform3D": "an abstract base class",
    "Lambda": "it needs Python functions, which params.yaml cannot hold",
    "ToTensorV2": "batches are made into tensors by traindev",
    "ToTensor3D": "batches are made into tensors by traindev",
    "Normalize": "models take pixels in [0, 1]; normalization belongs in the model",
    "ToFloat": "traindev already feeds albumentations float32 in [0, 1]",
    "FromFloat": "traindev already feeds albumentations float32 in [0, 1]",
}
# albumentations 1.x argument names that 2.x ignores with a warning, and their 2.x names.
RENAMED_ARGUMENTS = {
    "var_limit": "std_range",
    "quality_lower": "quality_range",
    "quality_upper": "quality_range",
    "alpha_affine": "(removed: use Affine)",
    "max_holes": "num_holes_range",
    "min_holes": "num_holes_range",
    "max_height": "hole_height_range",
    "max_width": "hole_width_range",
    "value": "fill",
    "mask_value": "fill_mask",
    "cval": "fill",
    "mode": "border_mode",
    "always_apply": "(removed: use p: 1)",
}


@dataclass(frozen=True)
class TransformSpec:
    """One transform as declared: where it came from (for errors), its class and arguments."""

    where: str  # "train.augment.transforms[2]" or "train.augment.preset notes: Rotate"
    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    purpose: str = ""  # the notes' item it stands for (preset entries), shown in the report

    def label(self, with_p: bool = True) -> str:
        """Name and arguments, short (a composition's children by name only)."""
        shown = [
            f"{key}={_short(value)}"
            for key, value in self.args.items()
            if key != "transforms" and (with_p or key != "p")
        ]
        children = self.args.get("transforms")
        if isinstance(children, list):
            names = [c.get("name", "?") if isinstance(c, Mapping) else "?" for c in children]
            shown.insert(0, "[" + ", ".join(map(str, names)) + "]")
        return f"{self.name}({', '.join(shown)})"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_short(item) for item in value) + ")"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Presets


def preset_specs(preset: str, image_shape: tuple[int, int, int]) -> list[TransformSpec]:
    """The preset's transforms for images of (C, H, W); each applied with probability 0.5.

    `notes` is the notes' list less mirroring (it changes a digit's label: add HorizontalFlip
    yourself, with allow_label_changing, for data where a mirror keeps the class). Colour
    shifting is RGBShift on 3-channel images and RandomBrightnessContrast (an intensity shift)
    on grey ones; FancyPCA works on any number of channels (on grey images albumentations scales
    each pixel's deviation from the image mean, the one-channel case of PCA colour noise).
    """
    if preset == "none":
        return []
    if preset != "notes":
        raise ParamsError(f"{WHERE}.preset: unknown preset {preset!r}; use notes or none")
    channels, height, width = image_shape
    where = f"{WHERE}.preset {preset}"

    def spec(name: str, purpose: str, **args: Any) -> TransformSpec:
        return TransformSpec(f"{where}: {name}", name, {**args, "p": 0.5}, purpose)

    colour = (
        spec(
            "RGBShift",
            "colour shifting",
            r_shift_limit=(-20, 20),
            g_shift_limit=(-20, 20),
            b_shift_limit=(-20, 20),
        )
        if channels == 3
        else spec(
            "RandomBrightnessContrast",
            "colour shifting (an intensity shift: the images are not RGB)",
            brightness_limit=(-0.15, 0.15),
            contrast_limit=(-0.15, 0.15),
        )
    )
    return [
        spec(
            "RandomResizedCrop",
            "random cropping",
            size=(height, width),
            scale=(0.7, 1.0),
            ratio=(0.8, 1.25),
        ),
        spec("Rotate", "rotation (small: a 6 turned far enough is a 9)", limit=(-12, 12)),
        spec("Affine", "shearing", shear=(-12, 12)),
        spec("ElasticTransform", "local warping", alpha=2.0, sigma=1.5),
        colour,
        spec("FancyPCA", "PCA colour augmentation", alpha=0.1),
    ]


def resolve_specs(params: AugmentParams, image_shape: tuple[int, int, int]) -> list[TransformSpec]:
    """The preset's transforms, then `transforms`: an entry named like a preset transform
    updates that transform's arguments in place (e.g. `{name: Rotate, limit: 20}`, or `p: 0` to
    drop it); any other entry is appended after the preset."""
    specs = preset_specs(params.preset, image_shape)
    from_preset = len(specs)
    tuned: set[int] = set()
    for index, raw in enumerate(params.transforms):
        own = parse_spec(raw, f"{WHERE}.transforms[{index}]")
        match = next(
            (i for i in range(from_preset) if specs[i].name == own.name and i not in tuned), None
        )
        if match is None:
            specs.append(own)
            continue
        base = specs[match]
        specs[match] = TransformSpec(own.where, own.name, {**base.args, **own.args}, base.purpose)
        tuned.add(match)
    return specs


def parse_spec(raw: Any, where: str) -> TransformSpec:
    """`{name: Rotate, limit: 10, p: 0.5}` -> TransformSpec; the shape only, not the arguments."""
    if not isinstance(raw, Mapping):
        raise ParamsError(
            f"{where}: expected a mapping like {{name: Rotate, limit: 10}}, got {raw!r}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ParamsError(f"{where}.name: missing; name the albumentations transform class")
    args = {key: value for key, value in raw.items() if key != "name"}
    bad = [key for key in args if not isinstance(key, str)]
    if bad:
        raise ParamsError(f"{where}: argument names must be strings, got {bad}")
    return TransformSpec(where, name, args)


# ---------------------------------------------------------------------------------------------
# Validation against albumentations


@cache
def _albumentations():
    import albumentations

    return albumentations


@cache
def transform_classes() -> dict[str, type]:
    """Every usable transform and composition class albumentations exports, by name."""
    album = _albumentations()
    from albumentations.core.composition import BaseCompose
    from albumentations.core.transforms_interface import BasicTransform

    return {
        name: value
        for name, value in vars(album).items()
        if isinstance(value, type)
        and issubclass(value, BasicTransform | BaseCompose)
        and name not in NOT_USABLE
    }


def _nearest(word: str, candidates: Sequence[str]) -> str:
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _transform_class(spec: TransformSpec, allow_label_changing: bool) -> type:
    version = _albumentations().__version__
    if spec.name in NOT_USABLE:
        raise ParamsError(
            f"{spec.where}.name: {spec.name} cannot be used here: {NOT_USABLE[spec.name]}"
        )
    classes = transform_classes()
    if spec.name not in classes:
        raise ParamsError(
            f"{spec.where}.name: {spec.name!r} is not an albumentations {version} transform"
            f"{_nearest(spec.name, sorted(classes))}; the list: "
            "https://explore.albumentations.ai (the class names)"
        )
    if spec.name in LABEL_CHANGING and not allow_label_changing:
        raise ParamsError(
            f"{spec.where}.name: {spec.name} can change an image's class (a mirrored 2 or 7 "
            "is not a 2 or 7, an upside-down 6 is a 9), so training on it teaches wrong labels; "
            f"if a mirrored or rotated example keeps its class in your data (cats, most photos), "
            f"set {WHERE}.allow_label_changing: true"
        )
    return classes[spec.name]


def _argument_names(cls: type) -> list[str]:
    return [
        name
        for name, parameter in inspect.signature(cls).parameters.items()
        if name not in ("self", "strict")
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]


def _check_argument_names(spec: TransformSpec, cls: type) -> None:
    valid = _argument_names(cls)
    for key in spec.args:
        if key in valid:
            continue
        renamed = RENAMED_ARGUMENTS.get(key)
        hint = (
            f" ({key!r} is an albumentations 1.x name that 2.x ignores; use {renamed})"
            if renamed and (renamed in valid or renamed.startswith("("))
            else _nearest(key, valid)
        )
        raise ParamsError(
            f"{spec.where}.{key}: {spec.name} has no argument {key!r}{hint}; "
            f"its arguments: {', '.join(valid)}"
        )


def build_transform(spec: TransformSpec, allow_label_changing: bool) -> Any:
    """An albumentations transform from its spec; every problem is a ParamsError at spec.where.

    Arguments are checked against the class's signature and then its pydantic schema, and any
    warning albumentations gives while building (it warns instead of failing) is an error.
    """
    cls = _transform_class(spec, allow_label_changing)
    _check_argument_names(spec, cls)
    args = dict(spec.args)
    if "transforms" in args:  # OneOf, SomeOf, Sequential, ...: build the children first
        children = args["transforms"]
        if not isinstance(children, list) or not children:
            raise ParamsError(f"{spec.where}.transforms: expected a non-empty list of transforms")
        args["transforms"] = [
            build_transform(
                parse_spec(child, f"{spec.where}.transforms[{i}]"), allow_label_changing
            )
            for i, child in enumerate(children)
        ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            transform = cls(**args)
        except (ValueError, TypeError) as error:
            raise ParamsError(
                f"{spec.where}: {spec.name} rejects its arguments: {_brief(error)}"
            ) from None
    complaints = [w for w in caught if issubclass(w.category, UserWarning)]
    if complaints:
        raise ParamsError(
            f"{spec.where}: albumentations would ignore part of {spec.name}'s arguments: "
            f"{_brief(complaints[0].message)}"
        )
    return transform


def _brief(error: BaseException | Warning | str) -> str:
    """pydantic's multi-line report on one line, without its 'For further information' URLs."""
    lines = [re.sub(r"\s*\[type=[^\]]*\]", "", line).strip() for line in str(error).splitlines()]
    kept = [line for line in lines if line and not line.startswith("For further information")]
    if kept and "validation error" in kept[0]:
        kept = kept[1:]
    return "; ".join(kept) or type(error).__name__


def build_pipeline(specs: Sequence[TransformSpec], allow_label_changing: bool) -> Any:
    """An albumentations Compose of the specs, in order."""
    album = _albumentations()
    return album.Compose([build_transform(spec, allow_label_changing) for spec in specs])


def validate_augment(params: AugmentParams) -> None:
    """The params check (`traindev check`): every declared transform builds, with nothing
    ignored, including preset transforms it tunes. The image is not known yet, so presets are
    resolved for a nominal one; checks needing the real images run when training starts."""
    specs = resolve_specs(params, NOMINAL_SHAPE)
    for spec in specs:
        if spec.where.startswith(f"{WHERE}.transforms"):
            build_transform(spec, params.allow_label_changing)
    if params.backend == "batched" and specs:
        from traindev.data.batch_augmentation import BatchAugmenter

        BatchAugmenter(specs, 1, 0, params.allow_label_changing)  # names what cannot run batched


def alone(transform: Any) -> Any:
    """The transform in a Compose of its own, always applied (p = 1): for checks and previews."""
    single = copy.deepcopy(transform)
    single.p = 1.0
    return _albumentations().Compose([single])


def check_on_image(
    specs: Sequence[TransformSpec], transforms: Sequence[Any], image: np.ndarray
) -> None:
    """Run every transform once on a real image: a transform that fails on these images (a
    colour-only transform on grey images) or changes their shape is named before training."""
    shape = image.shape
    kind = "grey" if shape[-1] == 1 else f"{shape[-1]}-channel"
    for spec, transform in zip(specs, transforms, strict=True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = alone(transform)(image=image)["image"]
        except Exception as error:  # any failure is reported with its transform
            raise ParamsError(
                f"{spec.where}: {spec.name} fails on the training images ({kind}, "
                f"{shape[0]}x{shape[1]}): {_brief(error)}"
            ) from None
        if np.shape(out) not in (shape, shape[:2]):
            raise ParamsError(
                f"{spec.where}: {spec.name} turns {shape[0]}x{shape[1]}x{shape[2]} images into "
                f"{'x'.join(map(str, np.shape(out)))}; the model's input size is fixed, so give "
                f"it the image size (e.g. size: [{shape[0]}, {shape[1]}])"
            )


# ---------------------------------------------------------------------------------------------
# Applying it


class Augmenter:
    """Augments a batch of store images, each image from its own seed (seed, epoch, row),
    one image at a time through albumentations (backend `albumentations`).

    Called in DataLoader worker processes. Picklable: it carries only the specs, and each
    process builds its albumentations pipeline on first use.
    """

    def __init__(
        self,
        specs: Sequence[TransformSpec],
        pixel_max: int,
        seed: int,
        allow_label_changing: bool = False,
    ) -> None:
        self.specs = tuple(specs)
        self.pixel_max = pixel_max
        self.seed = seed % 2**63
        self.allow_label_changing = allow_label_changing
        self._pipeline: Any = None
        self._py_random = random.Random()

    backend = "albumentations"

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pipeline": None}

    @property
    def pipeline(self) -> Any:
        if self._pipeline is None:
            self._pipeline = build_pipeline(self.specs, self.allow_label_changing)
        return self._pipeline

    def to_float(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 in [0, pixel_max] -> float32 in [0, 1], albumentations' float range."""
        return np.asarray(pixels, dtype=np.float32) * np.float32(1.0 / self.pixel_max)

    def reseed(self, row: int, epoch: int) -> None:
        """Point the pipeline at the generators of this (seed, epoch, row)."""
        generator = np.random.default_rng([self.seed, epoch, int(row)])
        self._py_random.seed(int(generator.integers(2**63)))
        self.pipeline.set_random_state(generator, self._py_random)

    def __call__(self, pixels: np.ndarray, rows: np.ndarray, epoch: int) -> np.ndarray:
        """uint8 (N, H, W, C) images of store `rows` -> augmented float32 (N, H, W, C) in [0, 1]."""
        images = self.to_float(pixels)
        out = np.empty_like(images)
        pipeline = self.pipeline
        for index, row in enumerate(rows):
            self.reseed(row, epoch)
            out[index] = np.reshape(pipeline(image=images[index])["image"], images.shape[1:])
        np.clip(out, 0.0, 1.0, out=out)
        return out


def make_augmenter(
    params: AugmentParams, store: ImageStore, seed: int
) -> Augmenter | BatchAugmenter | None:
    """The training split's augmenter, checked on a real training image; None when off.

    Backend (`train.augment.backend`): `batched` runs the pipeline on whole batches in torch
    (traindev.data.batch_augmentation), `albumentations` per image in DataLoader workers,
    `auto` batched when every transform has a batched translation, else albumentations.
    """
    if not params.enabled:
        return None
    specs = resolve_specs(params, store.image_shape)
    if not specs:
        return None
    augmenter = Augmenter(specs, store.pixel_max, seed, params.allow_label_changing)
    transforms = augmenter.pipeline.transforms
    check_on_image(specs, transforms, augmenter.to_float(store.pixels[0]))
    if params.backend == "albumentations":
        return augmenter
    from traindev.data.batch_augmentation import BatchAugmenter, untranslatable

    if params.backend == "auto" and untranslatable(specs, transforms) is not None:
        return augmenter
    return BatchAugmenter(
        specs, store.pixel_max, seed, params.allow_label_changing, transforms=transforms
    )


# ---------------------------------------------------------------------------------------------
# The report's preview


@dataclass(frozen=True)
class AugmentationPreview:
    """A few real training images, each transform applied alone to them, and the whole
    pipeline as training epoch 1 applied it. Images are float32 (H, W, C) in [0, 1]."""

    enabled: bool
    originals: np.ndarray | None = None  # (k, H, W, C)
    rows: tuple[tuple[str, np.ndarray], ...] = ()  # (label, (k, H, W, C)) per transform
    notes: tuple[str, ...] = ()  # one line per transform: what it stands for


def preview_rows(store: ImageStore, count: int, seed: int) -> np.ndarray:
    """`count` training rows, real (target-domain) images first, seeded and sorted."""
    from traindev.data.batches import sample_rows, split_rows

    train = split_rows(store, "train")
    real = train[store.manifest["origin"].to_numpy()[train] == "real"]
    chosen = sample_rows(real, count, seed)
    if len(chosen) < count:
        rest = np.setdiff1d(train, chosen)
        chosen = np.sort(np.concatenate([chosen, sample_rows(rest, count - len(chosen), seed)]))
    return chosen


def preview(
    params: AugmentParams, store: ImageStore, seed: int, examples: int = 4
) -> AugmentationPreview:
    """What the report shows: each transform on its own row, then the pipeline (epoch 1)."""
    augmenter = make_augmenter(params, store, seed)
    if augmenter is None:
        return AugmentationPreview(enabled=False)
    rows = preview_rows(store, examples, seed)
    pixels = np.asarray(store.pixels[rows])
    originals = np.asarray(pixels, dtype=np.float32) * np.float32(1.0 / store.pixel_max)
    if augmenter.backend == "batched":
        shown = _batched_rows(augmenter, originals, rows)
    else:
        shown = _albumentations_rows(augmenter, originals, pixels, rows)
    notes = tuple(
        f"{spec.name}: {spec.purpose or 'from ' + spec.where}" for spec in augmenter.specs
    )
    if params.offline_copies:
        notes += (
            f"offline: the augment stage wrote {params.offline_copies} copies "
            "(data/augmented); training epoch e reads copy (e - 1) mod "
            f"{params.offline_copies}, the images epoch e would draw on the fly",
        )
    return AugmentationPreview(True, originals, tuple(shown), notes)


def _batched_rows(
    augmenter: BatchAugmenter, originals: np.ndarray, rows: np.ndarray
) -> list[tuple[str, np.ndarray]]:
    """The preview as the batched backend trains: each step alone (epoch 0), then epoch 1."""
    import torch

    x = torch.from_numpy(originals).permute(0, 3, 1, 2)
    index = torch.from_numpy(np.asarray(rows, dtype=np.int64))

    def nhwc(images: torch.Tensor) -> np.ndarray:
        return images.permute(0, 2, 3, 1).contiguous().numpy()

    shown = [
        (spec.label(with_p=False), nhwc(augmenter.alone(i)(x, index, epoch=0)))
        for i, spec in enumerate(augmenter.specs)
    ]
    shown.append(("all together, as in epoch 1", nhwc(augmenter(x, index, epoch=1))))
    return shown


def _albumentations_rows(
    augmenter: Augmenter, originals: np.ndarray, pixels: np.ndarray, rows: np.ndarray
) -> list[tuple[str, np.ndarray]]:
    """The preview as the albumentations workers train: each transform alone, then epoch 1."""
    shown: list[tuple[str, np.ndarray]] = []
    for spec, transform in zip(augmenter.specs, augmenter.pipeline.transforms, strict=True):
        single = alone(transform)
        images = np.empty_like(originals)
        for index, row in enumerate(rows):
            generator = np.random.default_rng([augmenter.seed, 0, int(row)])
            single.set_random_state(generator, random.Random(int(generator.integers(2**63))))
            out = single(image=originals[index])["image"]
            images[index] = np.clip(np.reshape(out, originals.shape[1:]), 0.0, 1.0)
        shown.append((spec.label(with_p=False), images))
    shown.append(("all together, as in epoch 1", augmenter(pixels, rows, epoch=1)))
    return shown
