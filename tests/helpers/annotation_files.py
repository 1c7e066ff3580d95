"""Detection annotation folders as users bring them (COCO JSON, YOLO txt, Pascal VOC XML),
written by tests: <root>/<domain>/images/ plus each format's annotation files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, width: int, height: int) -> Path:
    """A grey PNG of the given size (content irrelevant to the readers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width), 128, np.uint8)).save(path)
    return path


def write_coco(domain: Path, images: list[dict], annotations: list[dict], names: list[str]):
    """annotations.json with categories numbered from 1 in `names` order."""
    domain.mkdir(parents=True, exist_ok=True)
    categories = [{"id": index + 1, "name": name} for index, name in enumerate(names)]
    payload = {"images": images, "annotations": annotations, "categories": categories}
    (domain / "annotations.json").write_text(json.dumps(payload))


def write_yolo(domain: Path, stem: str, lines: list[str]) -> None:
    path = domain / "labels" / f"{stem}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))


def write_voc(
    domain: Path, stem: str, filename: str, size: tuple[int, int], objects: list[tuple]
) -> None:
    """objects: (name, xmin, ymin, xmax, ymax), VOC's 1-based inclusive corners."""
    boxes = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for name, x0, y0, x1, y1 in objects
    )
    path = domain / "annotations" / f"{stem}.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<annotation><filename>{filename}</filename><size><width>{size[0]}</width>"
        f"<height>{size[1]}</height><depth>3</depth></size>{boxes}</annotation>"
    )
