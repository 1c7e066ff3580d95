"""Segmentation's targets: class masks from the canvases' instance masks, and users' masks.

Class masks are uint8 (N, H, W) index masks, rows aligned with the manifest, stored beside the
pixels as `paths.CLASS_MASKS_FILE` (memory-mapped like them, never inside the manifest).

Users' masks (docs/segmentation.md, "Your own masks"): under a root, `images/<stem>.<ext>`
and `masks/<stem>.png` (folder names from params). A mask is an index PNG (grey, or palette
mode read as its indices) whose value k means `classes[k]`, or, with a palette in params, an
RGB PNG whose colours map to classes; `ignore_index` marks unlabelled pixels. COCO JSON
(polygons or RLE) is decoded with pycocotools. Bad input is a `Problem` naming its file, under
ingest's fail / skip policy: a missing mask, a mask whose size differs from its image, values
outside the class list, a colour not in the palette, an unknown COCO category.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from pycocotools import mask as coco_mask

from traindev.atomic import atomic_file
from traindev.data.sources.problems import Problem, raise_problems
from traindev.paths import CLASS_MASKS_FILE
from traindev.tasks.segmentation.params import MaskParams

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def segmentation_classes(classes: list[str], background: str = "background") -> list[str]:
    """The canvases' segmentation classes: background first, then the digit classes."""
    return [background, *classes]


def class_masks_from_instances(
    instances: np.ndarray, boxes: pd.DataFrame, ids: list[str], classes: list[str]
) -> np.ndarray:
    """uint8 (N, H, W) class masks of canvases: instance k (object k - 1 of the image's rows in
    the box table) becomes 1 + the index of its label in `classes`; 0 stays background."""
    if len(classes) + 1 > 255:
        raise ValueError(f"{len(classes)} classes do not fit a uint8 mask beside background")
    lookup = np.zeros((len(ids), 256), np.uint8)
    row_of = {image_id: row for row, image_id in enumerate(ids)}
    class_of = {name: index + 1 for index, name in enumerate(classes)}
    unknown = sorted(set(boxes["label"]) - set(class_of))
    if unknown:
        raise ValueError(f"box table labels not in the class list: {unknown}")
    rows = boxes["id"].map(row_of)
    known = rows.notna().to_numpy()
    lookup[rows[known].astype(int).to_numpy(), boxes["object"].to_numpy()[known] + 1] = (
        boxes["label"][known].map(class_of).to_numpy()
    )
    instances = np.asarray(instances)
    return np.take_along_axis(
        lookup, instances.reshape(len(instances), -1).astype(np.intp), axis=1
    ).reshape(instances.shape)


def write_class_masks(store: Path, masks: np.ndarray) -> None:
    """A store's class masks, beside its pixels, written atomically."""
    masks = np.asarray(masks)
    if masks.dtype != np.uint8 or masks.ndim != 3:
        raise ValueError(f"class masks must be uint8 (N, H, W), got {masks.dtype} {masks.shape}")
    with atomic_file(Path(store) / CLASS_MASKS_FILE, "wb") as handle:
        np.save(handle, masks)


def read_class_masks(store: Path) -> np.ndarray:
    """A store's class masks, memory-mapped (uint8 (N, H, W))."""
    return np.load(Path(store) / CLASS_MASKS_FILE, mmap_mode="r")


@dataclass
class MaskSet:
    """Masks read from users' files: image paths and masks in step, and what was skipped."""

    images: list[Path] = field(default_factory=list)
    masks: list[np.ndarray] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def checked(masks: MaskSet, on_bad_input: str, origin: str) -> MaskSet:
    """Ingest's policy: `fail` raises one BadInputError listing every problem; `skip` returns
    the good masks, the problems kept for skipped.csv."""
    if on_bad_input == "fail":
        raise_problems(masks.problems, origin)
    return masks


def _image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.height, image.width


def decode_mask(path: Path, params: MaskParams) -> tuple[np.ndarray | None, str]:
    """(index mask, "") or (None, the reason it is bad)."""
    with Image.open(path) as image:
        if params.palette:
            rgb = np.asarray(image.convert("RGB"))
            mask = np.full(rgb.shape[:2], params.ignore_index, np.uint8)
            matched = np.zeros(rgb.shape[:2], bool)
            for name, colour in params.palette.items():
                hit = (rgb == np.asarray(colour, np.uint8)).all(-1)
                mask[hit] = params.classes.index(name)
                matched |= hit
            if not matched.all():
                colours = np.unique(rgb[~matched], axis=0)[:5].tolist()
                return None, f"colours not in the palette: {colours}"
            return mask, ""
        if image.mode not in ("L", "P", "I", "I;16", "1"):
            return None, f"mask mode {image.mode} is no index mask (set a palette for colour)"
        mask = np.asarray(image)
    bad = np.unique(mask[(mask >= len(params.classes)) & (mask != params.ignore_index)])
    if len(bad):
        return None, (
            f"values {bad[:10].tolist()} outside the {len(params.classes)} classes "
            f"(and ignore_index {params.ignore_index})"
        )
    return mask.astype(np.uint8), ""


def read_mask_folder(root: Path, params: MaskParams) -> MaskSet:
    """Every image under root/images_folder with its mask under root/masks_folder."""
    root = Path(root)
    if not params.classes:
        raise ValueError("masks.classes must list the classes a mask value stands for")
    result = MaskSet()
    images = sorted(
        p for p in (root / params.images_folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
    )
    for image in images:
        where = str(image.relative_to(root))
        mask_path = root / params.masks_folder / f"{image.stem}.png"
        if not mask_path.is_file():
            result.problems.append(Problem(where, str(image), f"missing mask {mask_path.name}"))
            continue
        mask, reason = decode_mask(mask_path, params)
        mask_where = str(mask_path.relative_to(root))
        if mask is None:
            result.problems.append(Problem(mask_where, str(mask_path), reason))
            continue
        size = _image_size(image)
        if mask.shape != size:
            result.problems.append(
                Problem(mask_where, str(mask_path), f"mask is {mask.shape}, its image {size}")
            )
            continue
        result.images.append(image)
        result.masks.append(mask)
    return result


def read_coco_masks(annotations: Path, image_root: Path, params: MaskParams) -> MaskSet:
    """Class masks from COCO JSON (polygons or RLE, by pycocotools); later annotations paint
    over earlier ones; categories are matched to `params.classes` by name."""
    document = json.loads(Path(annotations).read_text())
    category = {c["id"]: c["name"] for c in document.get("categories", [])}
    per_image: dict[int, list[dict]] = {}
    for annotation in document.get("annotations", []):
        per_image.setdefault(annotation["image_id"], []).append(annotation)
    result = MaskSet()
    for entry in document.get("images", []):
        image = Path(image_root) / entry["file_name"]
        where = f"{Path(annotations).name} image {entry['file_name']}"
        height, width = entry["height"], entry["width"]
        if not image.is_file():
            result.problems.append(Problem(where, str(image), "image file not found"))
            continue
        if _image_size(image) != (height, width):
            result.problems.append(
                Problem(where, str(image), f"image is {_image_size(image)}, COCO {height, width}")
            )
            continue
        mask = np.zeros((height, width), np.uint8)
        if params.background in params.classes:
            mask[:] = params.classes.index(params.background)
        reasons = []
        for annotation in per_image.get(entry["id"], []):
            name = category.get(annotation["category_id"])
            if name not in params.classes:
                reasons.append(f"annotation {annotation.get('id')}: category {name!r} unknown")
                continue
            segmentation = annotation["segmentation"]
            if isinstance(segmentation, list):
                rle = coco_mask.merge(coco_mask.frPyObjects(segmentation, height, width))
            elif isinstance(segmentation.get("counts"), list):
                rle = coco_mask.frPyObjects(segmentation, height, width)
            else:
                rle = segmentation
            mask[coco_mask.decode(rle).astype(bool)] = params.classes.index(name)
        if reasons:
            result.problems.append(Problem(where, str(image), "; ".join(reasons)))
            continue
        result.images.append(image)
        result.masks.append(mask)
    return result
