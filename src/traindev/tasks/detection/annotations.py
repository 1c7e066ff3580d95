"""Users' box annotations in COCO JSON, YOLO txt or Pascal VOC XML, into the box table.

Images keep ingest's folder layout of domain folders, each with its images under `images/`:

    <root>/<domain>/images/<file>            the images (any depth below images/)
    <root>/<domain>/annotations.json          coco: one file; file_name relative to images/
    <root>/<domain>/labels/<stem>.txt         yolo: one file per image, its path mirroring
                                              the image's below images/; no file: no object
    <root>/<domain>/annotations/<stem>.xml    voc: one file per image; <filename> relative
                                              to images/

YOLO lines are `class cx cy w h`, the class an index into the class list (`classes`, else
`<root>/classes.txt`, one name per line) and the box normalized by the image's width and
height. VOC corners are 1-based inclusive pixel indices (x_min = xmin - 1, x_max = xmax).
Boxes come out in the box table's convention (det_contract.md) in pixels of the image file;
`stored_boxes` maps them to the stored image after ingest's resize.

Every bad annotation is a `Problem` naming the file and the line (YOLO) or the object index
(COCO `annotations[i]`, VOC `object i`): a box outside the image (beyond EDGE_TOLERANCE),
zero or negative size, an unknown class, an image missing, a malformed file, or an image no
annotation file covers (COCO, VOC). `ingest.on_bad_input` decides as for images: `fail`
raises one BadInputError listing them; `skip` leaves out every image with a problem (an image
with one of its objects dropped would teach the detector that the object is background) and
returns the problems for skipped.csv.
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image
from pydantic import BaseModel, ConfigDict, ValidationError

from traindev.data.sources.decode import SUFFIXES
from traindev.data.sources.problems import BadInputError, Problem, raise_problems
from traindev.records.store import Resize
from traindev.tasks.detection.box_table import COORDINATES, box_frame

Format = Literal["coco", "yolo", "voc"]
IMAGES = "images"
COCO_FILE = "annotations.json"
YOLO_LABELS = "labels"
VOC_ANNOTATIONS = "annotations"
CLASSES_FILE = "classes.txt"
# A box may overhang the image by up to half a pixel (annotation tools round corners); it is
# clipped to the image. Beyond that it is a problem.
EDGE_TOLERANCE = 0.5
IMAGE_COLUMNS = ["file", "where", "domain", "width", "height"]
BOX_COLUMNS = ["where", "object", "label", *COORDINATES]


@dataclass(frozen=True)
class Annotations:
    """The annotated images and their boxes in pixels of the image files."""

    images: pd.DataFrame  # IMAGE_COLUMNS: path, path under root, domain, file width / height
    boxes: pd.DataFrame  # BOX_COLUMNS: `where` names the image (images["where"])
    classes: list[str]
    problems: list[Problem]  # under skip: what was left out (for skipped.csv); else empty


@dataclass
class _Image:
    file: str
    where: str
    domain: str
    width: int
    height: int
    boxes: list[tuple[str, float, float, float, float]]


def read_annotations(
    root: Path,
    fmt: Format,
    classes: list[str] | None = None,
    on_bad_input: Literal["fail", "skip"] = "fail",
) -> Annotations:
    """Every domain folder's images and boxes, checked; see the module docstring."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"{root} is not a folder; point it at <root>/<domain>/images/")
    domains = [entry for entry in sorted(root.iterdir()) if _visible_dir(entry)]
    if not domains:
        raise BadInputError(f"{root}: no domain folder; images go in <root>/<domain>/images/")
    classes = _class_list(root, fmt, classes)
    reader = {"coco": _read_coco, "yolo": _read_yolo, "voc": _read_voc}[fmt]
    images: list[_Image] = []
    problems: list[Problem] = []
    for domain in domains:
        found, bad = reader(root, domain, classes)
        images += found
        problems += bad
    if on_bad_input == "fail":
        raise_problems(problems, f"{root} ({fmt} annotations)")
    bad_images = {problem.file for problem in problems}
    kept = [image for image in images if image.file not in bad_images]
    if not kept:
        raise BadInputError(f"{root}: no annotated image is left to ingest")
    if classes is None:  # as ingest.classes: null, the sorted names found
        classes = sorted({box[0] for image in kept for box in image.boxes})
    return Annotations(_images_frame(kept), _boxes_frame(kept), classes, problems)


def stored_boxes(
    boxes: np.ndarray, width: int, height: int, image_size: tuple[int, int], resize: Resize
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (K, 4) in pixels of a width x height file, in pixels of the image ingest stores
    (`image_size` (H, W) after `resize`, as traindev.data.sources.decode fits it with PIL), and
    which boxes keep a positive size inside it (centre_crop can cut an object off)."""
    out_h, out_w = image_size
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if (width, height) == (out_w, out_h):
        scale, offset = np.array([1.0, 1.0]), np.zeros(2)
    elif resize == "stretch":
        scale, offset = np.array([out_w / width, out_h / height]), np.zeros(2)
    elif resize == "letterbox":  # PIL ImageOps.pad: contain, then centre
        if width / height > out_w / out_h:
            new_w, new_h = out_w, round(height / width * out_w)
        else:
            new_w, new_h = round(width / height * out_h), out_h
        scale = np.array([new_w / width, new_h / height])
        offset = np.array([round((out_w - new_w) * 0.5), round((out_h - new_h) * 0.5)])
    else:  # centre_crop, PIL ImageOps.fit: crop the centre to the output's ratio, then resize
        if width / height >= out_w / out_h:
            crop_w, crop_h = out_w / out_h * height, float(height)
        else:
            crop_w, crop_h = float(width), width / (out_w / out_h)
        scale = np.array([out_w / crop_w, out_h / crop_h])
        offset = -np.array([(width - crop_w) / 2, (height - crop_h) / 2]) * scale
    mapped = boxes * np.tile(scale, 2) + np.tile(offset, 2)
    mapped = np.clip(mapped, 0, [out_w, out_h, out_w, out_h]).astype(np.float32)
    keep = (mapped[:, 2] > mapped[:, 0]) & (mapped[:, 3] > mapped[:, 1])
    return mapped, keep


def stored_box_table(
    annotations: Annotations,
    manifest: pd.DataFrame,
    where_column: str,
    image_size: tuple[int, int],
    resize: Resize,
) -> tuple[pd.DataFrame, int]:
    """The box table of an ingested store: each manifest row's boxes (found by the image's
    `where`, which ingest carries in `where_column`) in stored pixels, keyed by its id, and
    how many boxes the resize cut off. A repeated id (identical pixels) keeps the boxes of
    its first row, as the box table holds one image per id."""
    sizes = annotations.images.set_index("where")[["width", "height"]]
    by_image = annotations.boxes.groupby("where", sort=False).indices
    rows = manifest.drop_duplicates("id")
    ids, objects, labels, coords, cut = [], [], [], [], 0
    for image_id, where in zip(rows["id"], rows[where_column], strict=True):
        positions = by_image.get(where)
        if positions is None:
            continue
        found = annotations.boxes.iloc[positions]
        width, height = sizes.loc[where]
        mapped, keep = stored_boxes(
            found[COORDINATES].to_numpy(), int(width), int(height), image_size, resize
        )
        cut += int((~keep).sum())
        ids += [image_id] * int(keep.sum())
        objects += list(range(int(keep.sum())))
        labels += found["label"][keep].tolist()
        coords.append(mapped[keep])
    boxes = np.concatenate(coords) if coords else np.zeros((0, 4), np.float32)
    return box_frame(ids, objects, labels, boxes), cut


def _class_list(root: Path, fmt: Format, classes: list[str] | None) -> list[str] | None:
    """The class list: given, else YOLO's classes.txt; COCO and VOC may name their own."""
    if classes is not None:
        return list(classes)
    if fmt != "yolo":
        return None
    path = root / CLASSES_FILE
    if not path.is_file():
        raise BadInputError(
            f"{path}: missing; YOLO labels hold class indices, so list the class names "
            "(one per line) there or in ingest.classes"
        )
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(names) < 2:
        raise BadInputError(f"{path}: lists {len(names)} class(es); at least 2 are needed")
    return names


def _read_coco(
    root: Path, domain: Path, classes: list[str] | None
) -> tuple[list[_Image], list[Problem]]:
    path = domain / COCO_FILE
    rel = _rel(root, path)
    if not path.is_file():
        return [], [Problem(rel, str(path), "missing: a COCO domain folder holds one")]
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return [], [Problem(rel, str(path), f"malformed JSON: {error}")]
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        return [], [Problem(rel, str(path), "malformed: no 'images' list at the top level")]
    problems: list[Problem] = []
    categories = _coco_categories(data.get("categories", []), rel, str(path), problems)
    images: dict[int, _Image] = {}
    for index, entry in enumerate(data["images"]):
        where = f"{rel} images[{index}]"
        image = _parse(_CocoImage, entry, where, str(path), problems)
        if image is None:
            continue
        if image.id in images:
            problems.append(Problem(where, str(path), f"repeats image id {image.id}"))
            continue
        found = _open_image(root, domain, image.file_name, where, problems)
        if found is None:
            continue
        if (image.width, image.height) != (found.width, found.height) and image.width:
            problems.append(
                Problem(
                    where,
                    found.file,
                    f"declares {image.width}x{image.height} but the image is "
                    f"{found.width}x{found.height}",
                )
            )
        images[image.id] = found
    for index, entry in enumerate(data.get("annotations", [])):
        where = f"{rel} annotations[{index}]"
        note = _parse(_CocoAnnotation, entry, where, str(path), problems)
        if note is None:
            continue
        image = images.get(note.image_id)
        if image is None:
            problems.append(Problem(where, str(path), f"image_id {note.image_id} is no image"))
            continue
        label = categories.get(note.category_id)
        if label is None:
            reason = f"unknown class: category_id {note.category_id} is not in categories"
            problems.append(Problem(where, image.file, reason))
            continue
        x, y, w, h = note.bbox
        _add_box(image, label, (x, y, x + w, y + h), classes, where, problems)
    listed = {image.file for image in images.values()}
    problems += _unannotated(root, domain, listed, COCO_FILE)
    return list(images.values()), problems


def _coco_categories(
    entries: object, rel: str, file: str, problems: list[Problem]
) -> dict[int, str]:
    if not isinstance(entries, list):
        problems.append(Problem(rel, file, "malformed: 'categories' must be a list"))
        return {}
    names = {}
    for index, entry in enumerate(entries):
        category = _parse(_CocoCategory, entry, f"{rel} categories[{index}]", file, problems)
        if category is not None:
            names[category.id] = category.name
    return names


def _read_yolo(
    root: Path, domain: Path, classes: list[str] | None
) -> tuple[list[_Image], list[Problem]]:
    assert classes is not None  # _class_list guarantees it for YOLO
    labels = domain / YOLO_LABELS
    problems: list[Problem] = []
    images = []
    stems = set()
    for file in _image_files(domain / IMAGES):
        relative = Path(os.path.relpath(file, domain / IMAGES))
        stems.add(relative.with_suffix("").as_posix())
        image = _open_image(root, domain, relative.as_posix(), _rel(root, Path(file)), problems)
        if image is None:
            continue
        images.append(image)
        label_file = labels / relative.with_suffix(".txt")
        if not label_file.is_file():
            continue  # YOLO's background image: no object
        rel = _rel(root, label_file)
        try:
            lines = label_file.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(rel, image.file, f"unreadable: {error}"))
            continue
        for number, line in enumerate(lines, start=1):
            if line.strip():
                _yolo_line(image, line, classes, f"{rel} line {number}", problems)
    if labels.is_dir():
        for label_file in sorted(labels.rglob("*.txt")):
            stem = label_file.relative_to(labels).with_suffix("").as_posix()
            if stem not in stems:
                problems.append(
                    Problem(
                        _rel(root, label_file),
                        str(label_file),
                        f"image missing: no {IMAGES}/{stem}.<image suffix>",
                    )
                )
    return images, problems


def _yolo_line(
    image: _Image, line: str, classes: list[str], where: str, problems: list[Problem]
) -> None:
    fields = line.split()
    if len(fields) != 5:
        reason = f"malformed: {len(fields)} fields, expected 5 (class cx cy w h)"
        problems.append(Problem(where, image.file, reason))
        return
    try:
        index = int(fields[0])
        cx, cy, w, h = (float(value) for value in fields[1:])
    except ValueError:
        reason = f"malformed: {line.strip()!r} is not an integer class and 4 numbers"
        problems.append(Problem(where, image.file, reason))
        return
    if not 0 <= index < len(classes):
        reason = f"unknown class: index {index}, the class list has {len(classes)}"
        problems.append(Problem(where, image.file, reason))
        return
    scale = (image.width, image.height, image.width, image.height)
    box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    box = tuple(value * size for value, size in zip(box, scale, strict=True))
    _add_box(image, classes[index], box, classes, where, problems)


def _read_voc(
    root: Path, domain: Path, classes: list[str] | None
) -> tuple[list[_Image], list[Problem]]:
    folder = domain / VOC_ANNOTATIONS
    problems: list[Problem] = []
    images = []
    for path in sorted(folder.rglob("*.xml")) if folder.is_dir() else []:
        rel = _rel(root, path)
        try:
            tree = ElementTree.parse(path).getroot()
        except ElementTree.ParseError as error:
            problems.append(Problem(rel, str(path), f"malformed XML: {error}"))
            continue
        filename = (tree.findtext("filename") or "").strip()
        if not filename:
            problems.append(Problem(rel, str(path), "malformed: no <filename>"))
            continue
        image = _open_image(root, domain, filename, rel, problems)
        if image is None:
            continue
        images.append(image)
        size = [tree.findtext(f"size/{name}") for name in ("width", "height")]
        declared = tuple(_number(value) for value in size)
        if None not in declared and declared != (image.width, image.height):
            reason = f"declares {size[0]}x{size[1]} but the image is {image.width}x{image.height}"
            problems.append(Problem(rel, image.file, reason))
        for index, node in enumerate(tree.iter("object")):
            where = f"{rel} object {index}"
            name = (node.findtext("name") or "").strip()
            corners = [node.findtext(f"bndbox/{key}") for key in ("xmin", "ymin", "xmax", "ymax")]
            values = [_number(value) for value in corners]
            if not name or None in values:
                reason = "malformed: needs <name> and <bndbox> with xmin ymin xmax ymax numbers"
                problems.append(Problem(where, image.file, reason))
                continue
            x_min, y_min, x_max, y_max = values
            _add_box(image, name, (x_min - 1, y_min - 1, x_max, y_max), classes, where, problems)
    annotated = {image.file for image in images}
    return images, problems + _unannotated(root, domain, annotated, f"{VOC_ANNOTATIONS}/*.xml")


def _add_box(
    image: _Image,
    label: str,
    box: tuple[float, ...],
    classes: list[str] | None,
    where: str,
    problems: list[Problem],
) -> None:
    """Check one box and add it to its image, clipped by at most EDGE_TOLERANCE."""
    x_min, y_min, x_max, y_max = box
    reason = None
    if not all(math.isfinite(value) for value in box):
        reason = "malformed: a coordinate is not a finite number"
    elif classes is not None and label not in classes:
        reason = f"unknown class {label!r}; classes: {classes}"
    elif x_max <= x_min or y_max <= y_min:
        reason = f"zero or negative size: [{x_min:g}, {y_min:g}, {x_max:g}, {y_max:g}]"
    elif (
        min(x_min, y_min) < -EDGE_TOLERANCE
        or x_max > image.width + EDGE_TOLERANCE
        or y_max > image.height + EDGE_TOLERANCE
    ):
        reason = (
            f"box outside the {image.width}x{image.height} image: "
            f"[{x_min:g}, {y_min:g}, {x_max:g}, {y_max:g}]"
        )
    if reason:
        problems.append(Problem(where, image.file, reason))
        return
    clipped = np.clip(box, 0, [image.width, image.height, image.width, image.height])
    image.boxes.append((label, *(float(value) for value in clipped)))


def _open_image(
    root: Path, domain: Path, name: str, where: str, problems: list[Problem]
) -> _Image | None:
    """The image `name` below the domain's images/ with its size, or a problem."""
    path = domain / IMAGES / name
    if not path.is_file():
        problems.append(Problem(where, str(path), f"image missing: {_rel(root, path)}"))
        return None
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        problems.append(Problem(where, str(path), f"unreadable image: {error}"))
        return None
    return _Image(str(path), _rel(root, path), domain.name, width, height, [])


def _unannotated(root: Path, domain: Path, annotated: set[str], by: str) -> list[Problem]:
    return [
        Problem(_rel(root, Path(file)), file, f"not annotated: no entry in {by}")
        for file in _image_files(domain / IMAGES)
        if file not in annotated
    ]


def _image_files(folder: Path) -> Iterable[str]:
    if not folder.is_dir():
        return []
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        found += [
            os.path.join(parent, name)
            for name in sorted(files)
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in SUFFIXES
        ]
    return found


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _CocoImage(_Strict):
    id: int
    file_name: str
    width: int = 0
    height: int = 0


class _CocoAnnotation(_Strict):
    image_id: int
    category_id: int
    bbox: tuple[float, float, float, float]


class _CocoCategory(_Strict):
    id: int
    name: str


def _parse(
    model: type[_Strict], entry: object, where: str, file: str, problems: list[Problem]
) -> _Strict | None:
    try:
        return model.model_validate(entry)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "entry"
        problems.append(Problem(where, file, f"malformed: {field}: {first['msg']}"))
        return None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _visible_dir(entry: Path) -> bool:
    return entry.is_dir() and not entry.name.startswith(".")


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _images_frame(images: list[_Image]) -> pd.DataFrame:
    rows = [(i.file, i.where, i.domain, i.width, i.height) for i in images]
    return pd.DataFrame(rows, columns=IMAGE_COLUMNS)


def _boxes_frame(images: list[_Image]) -> pd.DataFrame:
    rows = [(image.where, index, *box) for image in images for index, box in enumerate(image.boxes)]
    frame = pd.DataFrame(rows, columns=BOX_COLUMNS)
    frame["object"] = frame["object"].astype(np.int64)
    frame[COORDINATES] = frame[COORDINATES].astype(np.float32)
    return frame
