"""`synthesize.source: overlay`: clean images composited onto noise sources, then degraded.

The image analogue of the notes' speech recipe (clean audio + car noise = in-car audio):
clean foregrounds (a domain of an ingested store, or a folder of class folders) are laid
over backgrounds drawn from a folder of "noise sources" (street scenes, paper textures,
sensor dark frames: whatever the target's backgrounds look like), then put through the
camera (low light, blur, sensor noise, JPEG). Output has the foregrounds' size, channels
and pixel scale, so the split stage can combine it with the ingested store.

Foregrounds and backgrounds are each used evenly; with few backgrounds the diversity
report warns that the set may teach the network those few backgrounds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from traindev.config import OverlayParams, ParamsError, SynthesizeParams
from traindev.data.sources.decode import SUFFIXES, BadImage, DecodeSpec, decode_image
from traindev.data.sources.images import natural_sorted
from traindev.data.store import METADATA_FILE, read_store
from traindev.data.synthesis.camera import degrade

# A background is resized so its shorter side is this many times the output's longer side:
# a crop then shows a part of the scene, not a flat patch of a large photo.
BACKGROUND_SCALE = 2


class OverlayInputError(ValueError):
    """A foreground or background file that cannot be used; the message names it."""


@dataclass(frozen=True)
class Foregrounds:
    pixels: np.ndarray  # uint8 NHWC
    labels: list[str]
    names: list[str]  # content id (store) or path below the folder, for tags and diversity
    classes: list[str]
    pixel_max: int


@dataclass(frozen=True)
class Background:
    name: str  # path below the backgrounds folder
    image: np.ndarray  # float32 HWC in [0, 1]


@dataclass(frozen=True)
class SynthesizedOverlay:
    pixels: np.ndarray  # uint8 NHWC at the foregrounds' size and scale
    labels: list[str]
    tags: list[list[str]]
    classes: list[str]
    pixel_max: int


# --------------------------------------------------------------------------- inputs


def load_foregrounds(params: OverlayParams) -> Foregrounds:
    """The clean images: a store's chosen domains, or a folder <foregrounds>/<class>/<file>."""
    path = Path(params.foregrounds)
    if (path / METADATA_FILE).is_file():
        return _store_foregrounds(path, params.foreground_domains)
    if path.is_dir():
        return _folder_foregrounds(path, params)
    raise ParamsError(
        f"synthesize.overlay.foregrounds: {path} is neither a store (a stage's output folder "
        "with dataset.json, e.g. data/ingested) nor a folder of class folders; fix the path"
    )


def _store_foregrounds(path: Path, domains: list[str]) -> Foregrounds:
    store = read_store(path)
    found = natural_sorted(store.manifest["domain"].unique().tolist())
    if not domains:
        raise ParamsError(
            f"synthesize.overlay.foreground_domains: name the clean domain(s) of {path} to "
            f"composite (it holds {', '.join(found)}); never the target domain, whose dev and "
            "test images would leak into training"
        )
    missing = sorted(set(domains) - set(found))
    if missing:
        raise ParamsError(
            f"synthesize.overlay.foreground_domains: {missing} not in {path} "
            f"(its domains: {', '.join(found)})"
        )
    rows = np.flatnonzero(store.manifest["domain"].isin(domains).to_numpy())
    chosen = store.manifest.iloc[rows]
    return Foregrounds(
        pixels=np.asarray(store.pixels[rows]),
        labels=chosen["label"].astype(str).tolist(),
        names=chosen["id"].astype(str).tolist(),
        classes=list(store.classes),
        pixel_max=store.pixel_max,
    )


def _image_files(root: Path) -> list[Path]:
    """Visible image files below ``root`` at any depth, sorted."""
    found = []
    for parent, dirs, files in os.walk(root):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        found += [
            Path(parent) / name
            for name in sorted(files)
            if not name.startswith(".") and Path(name).suffix.lower() in SUFFIXES
        ]
    return found


def _folder_foregrounds(path: Path, params: OverlayParams) -> Foregrounds:
    spec = DecodeSpec(*params.image_size, params.channels, "letterbox")
    classes = natural_sorted(
        [entry.name for entry in path.iterdir() if entry.is_dir() and entry.name[0] != "."]
    )
    images, labels, names = [], [], []
    for label in classes:
        for file in _image_files(path / label):
            try:
                images.append(decode_image(str(file), spec))
            except BadImage as exc:
                raise OverlayInputError(f"synthesize.overlay.foregrounds: {file}: {exc}") from None
            labels.append(label)
            names.append(file.relative_to(path).as_posix())
    if not images:
        raise ParamsError(
            f"synthesize.overlay.foregrounds: no images in {path}; expected "
            f"{path}/<class>/<file> with suffixes {' '.join(sorted(SUFFIXES))}"
        )
    return Foregrounds(np.stack(images), labels, names, classes, 255)


def load_backgrounds(folder: Path, shape: tuple[int, int, int]) -> list[Background]:
    """Every image below ``folder``, decoded once at a size that crops well to ``shape``."""
    folder = Path(folder)
    files = _image_files(folder) if folder.is_dir() else []
    if not files:
        raise ParamsError(
            f"synthesize.overlay.backgrounds: no images in {folder}; put your noise sources "
            f"(any size, suffixes {' '.join(sorted(SUFFIXES))}) there, at any depth"
        )
    side = BACKGROUND_SCALE * max(shape[:2])
    return [
        Background(file.relative_to(folder).as_posix(), _decode(file, side, shape[2]))
        for file in files
    ]


def _decode(file: Path, side: int, channels: int) -> np.ndarray:
    try:
        with Image.open(file) as image:
            image = ImageOps.exif_transpose(image).convert("L" if channels == 1 else "RGB")
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise OverlayInputError(
            f"synthesize.overlay.backgrounds: {file}: unreadable image ({exc}); fix or remove it"
        ) from None
    scale = side / min(image.size)
    size = (max(side, round(image.width * scale)), max(side, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255.0
    return array.reshape(array.shape[0], array.shape[1], channels)


# --------------------------------------------------------------------------- compositing


def crop(background: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``height`` x ``width`` window of the background."""
    top = int(rng.integers(0, background.shape[0] - height, endpoint=True))
    left = int(rng.integers(0, background.shape[1] - width, endpoint=True))
    return background[top : top + height, left : left + width]


def composite(foreground: np.ndarray, background: np.ndarray, weight: float, blend: str):
    """Lay the foreground over the background; float HWC in [0, 1].

    ``mix``: ``(1 - weight) * foreground + weight * background``, like mixing two sounds.
    ``mask``: the foreground's brightness is its opacity, so bright ink stays on top and the
    background shows through its dark surround at ``weight``.
    """
    mask = foreground.mean(axis=-1, keepdims=True) if blend == "mask" else 0.0
    alpha = 1.0 - weight * (1.0 - mask)
    return alpha * foreground + (1.0 - alpha) * background


def synthesize_overlay(params: SynthesizeParams) -> SynthesizedOverlay:
    """``params.count`` composites, bit-identical for the same params and input files."""
    overlay = params.overlay
    foregrounds = load_foregrounds(overlay)
    shape = foregrounds.pixels.shape[1:]
    backgrounds = load_backgrounds(Path(overlay.backgrounds), shape)
    n = params.count
    rng = np.random.default_rng(params.seed)
    # Every foreground and every background used evenly (counts differ by at most one).
    fg_index = rng.permutation(np.arange(n) % len(foregrounds.labels))
    bg_index = rng.permutation(np.arange(n) % len(backgrounds))
    weights = np.round(rng.uniform(*overlay.background_weight, size=n), 2) + 0.0
    scale = float(foregrounds.pixel_max)
    pixels = np.empty((n, *shape), dtype=np.uint8)
    labels, tags = [], []
    for i in range(n):
        image_rng = np.random.default_rng([params.seed, i])
        fg, bg = foregrounds.pixels[fg_index[i]], backgrounds[bg_index[i]]
        window = crop(bg.image, shape[0], shape[1], image_rng)
        mixed = composite(fg.astype(np.float32) / scale, window, weights[i], overlay.blend)
        degraded, applied = degrade(mixed, overlay, image_rng)
        pixels[i] = np.clip(np.rint(degraded * scale), 0, scale).astype(np.uint8)
        labels.append(foregrounds.labels[fg_index[i]])
        tags.append(
            [
                f"foreground={foregrounds.names[fg_index[i]]}",
                f"background={bg.name}",
                f"bg_weight={weights[i]:g}",
                *applied,
            ]
        )
    return SynthesizedOverlay(pixels, labels, tags, foregrounds.classes, foregrounds.pixel_max)
