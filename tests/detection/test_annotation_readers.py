"""Users' annotations in COCO JSON, YOLO txt and Pascal VOC XML: boxes read in the box table's
convention, and every bad annotation reported with its file and line or object index under
ingest's fail / skip policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.annotation_files import write_coco, write_image, write_voc, write_yolo
from PIL import Image, ImageDraw

from traindev.data.sources.decode import DecodeSpec, decode_image
from traindev.data.sources.problems import BadInputError
from traindev.tasks.detection.annotations import (
    read_annotations,
    stored_box_table,
    stored_boxes,
)
from traindev.tasks.detection.box_table import validate_boxes

NAMES = ["cat", "dog"]


def boxes_of(read, where: str) -> list[list[float]]:
    rows = read.boxes[read.boxes["where"] == where]
    return rows[["x_min", "y_min", "x_max", "y_max"]].to_numpy().tolist()


def expect(root: Path, fmt: str, where: str, reason: str, dropped: str | None, **kwargs):
    """`fail` raises naming `where` and `reason`; `skip` leaves out the image `dropped` only."""
    with pytest.raises(BadInputError) as raised:
        read_annotations(root, fmt, **kwargs)
    assert f"- {where}: {reason}" in str(raised.value)
    read = read_annotations(root, fmt, on_bad_input="skip", **kwargs)
    assert any(p.where == where and p.reason.startswith(reason) for p in read.problems)
    if dropped is not None:
        assert dropped not in set(read.images["where"])
    assert "phone/images/good.png" in set(read.images["where"])


# COCO -----------------------------------------------------------------------------------------


def coco_folder(root: Path, extra_images=(), extra_annotations=()) -> Path:
    domain = root / "phone"
    write_image(domain / "images" / "a.png", 40, 30)
    write_image(domain / "images" / "good.png", 20, 20)
    images = [
        {"id": 1, "file_name": "a.png", "width": 40, "height": 30},
        {"id": 2, "file_name": "good.png", "width": 20, "height": 20},
        *extra_images,
    ]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 3, 10, 8]},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [0, 0, 40, 30]},
        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5]},
        *extra_annotations,
    ]
    write_coco(domain, images, annotations, NAMES)
    return root


def test_coco_boxes_become_corners_in_pixels(tmp_path):
    read = read_annotations(coco_folder(tmp_path), "coco")
    assert read.classes == NAMES
    assert boxes_of(read, "phone/images/a.png") == [[2, 3, 12, 11], [0, 0, 40, 30]]
    assert read.boxes["label"].tolist() == ["cat", "dog", "cat"]
    assert read.boxes["object"].tolist() == [0, 1, 0]
    assert read.images.set_index("where").loc["phone/images/a.png", "width"] == 40


@pytest.mark.parametrize(
    ("bbox", "category", "reason"),
    [
        ([35, 0, 10, 5], 1, "box outside the 40x30 image"),
        ([0, 25, 5, 6], 1, "box outside the 40x30 image"),
        ([1, 1, 0, 5], 1, "zero or negative size"),
        ([1, 1, 5, -2], 1, "zero or negative size"),
        ([1, 1, 5, 5], 9, "unknown class: category_id 9"),
        ([1, 1, 5], 1, "malformed: bbox"),
    ],
)
def test_coco_bad_annotation_names_its_index(tmp_path, bbox, category, reason):
    note = {"id": 4, "image_id": 1, "category_id": category, "bbox": bbox}
    root = coco_folder(tmp_path, extra_annotations=[note])
    dropped = None if reason.startswith("malformed") else "phone/images/a.png"
    expect(root, "coco", "phone/annotations.json annotations[3]", reason, dropped)


def test_coco_unknown_class_name_against_the_class_list(tmp_path):
    root = coco_folder(tmp_path)
    where = "phone/annotations.json annotations[1]"
    expect(root, "coco", where, "unknown class 'dog'", "phone/images/a.png", classes=["cat"])


def test_coco_missing_image_unlisted_image_and_malformed_file(tmp_path):
    missing = {"id": 3, "file_name": "gone.png", "width": 8, "height": 8}
    root = coco_folder(tmp_path, extra_images=[missing])
    expect(root, "coco", "phone/annotations.json images[2]", "image missing", None)
    write_image(root / "phone" / "images" / "extra.png", 8, 8)
    expect(root, "coco", "phone/images/extra.png", "not annotated", "phone/images/extra.png")
    (root / "web" / "images").mkdir(parents=True)
    (root / "web" / "annotations.json").write_text('{"images": [')
    expect(root, "coco", "web/annotations.json", "malformed JSON", None)


def test_coco_declared_size_must_match_the_image(tmp_path):
    wrong = {"id": 3, "file_name": "b.png", "width": 64, "height": 64}
    root = coco_folder(tmp_path, extra_images=[wrong])
    write_image(root / "phone" / "images" / "b.png", 32, 32)
    expect(root, "coco", "phone/annotations.json images[2]", "declares 64x64", "phone/images/b.png")


# YOLO -----------------------------------------------------------------------------------------


def yolo_folder(root: Path, lines: list[str] = ()) -> Path:
    (root / "classes.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("cat\ndog\n")
    domain = root / "phone"
    write_image(domain / "images" / "a.png", 40, 20)
    write_image(domain / "images" / "good.png", 10, 10)  # no label file: background
    write_yolo(domain, "a", ["0 0.5 0.5 0.5 0.5", *lines])
    return root


def test_yolo_boxes_are_denormalized_and_unlabelled_images_are_background(tmp_path):
    read = read_annotations(yolo_folder(tmp_path), "yolo")
    assert read.classes == NAMES
    assert boxes_of(read, "phone/images/a.png") == [[10, 5, 30, 15]]
    assert boxes_of(read, "phone/images/good.png") == []
    assert len(read.images) == 2


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("0 0.95 0.5 0.2 0.2", "box outside the 40x20 image"),
        ("1 0.5 0.02 0.2 0.2", "box outside the 40x20 image"),
        ("0 0.5 0.5 0 0.1", "zero or negative size"),
        ("0 0.5 0.5 0.1 -0.1", "zero or negative size"),
        ("5 0.5 0.5 0.1 0.1", "unknown class: index 5"),
        ("0 0.5 0.5", "malformed: 3 fields"),
        ("cat 0.5 0.5 0.1 0.1", "malformed: 'cat 0.5 0.5 0.1 0.1'"),
    ],
)
def test_yolo_bad_line_names_the_file_and_line(tmp_path, line, reason):
    root = yolo_folder(tmp_path, [line])
    expect(root, "yolo", "phone/labels/a.txt line 2", reason, "phone/images/a.png")


def test_yolo_label_without_image_and_missing_class_list(tmp_path):
    root = yolo_folder(tmp_path)
    write_yolo(root / "phone", "gone", ["0 0.5 0.5 0.1 0.1"])
    expect(root, "yolo", "phone/labels/gone.txt", "image missing", None)
    (root / "classes.txt").unlink()
    with pytest.raises(BadInputError, match=r"classes\.txt: missing"):
        read_annotations(root, "yolo")
    assert read_annotations(root, "yolo", classes=NAMES, on_bad_input="skip").classes == NAMES


# Pascal VOC -----------------------------------------------------------------------------------


def voc_folder(root: Path, objects: list[tuple] = ()) -> Path:
    domain = root / "phone"
    write_image(domain / "images" / "a.png", 40, 30)
    write_image(domain / "images" / "good.png", 20, 20)
    write_voc(domain, "a", "a.png", (40, 30), [("cat", 1, 1, 10, 10), *objects])
    write_voc(domain, "good", "good.png", (20, 20), [("dog", 5, 5, 20, 20)])
    return root


def test_voc_corners_become_pixel_edges(tmp_path):
    read = read_annotations(voc_folder(tmp_path), "voc")
    assert read.classes == NAMES
    assert boxes_of(read, "phone/images/a.png") == [[0, 0, 10, 10]]
    assert boxes_of(read, "phone/images/good.png") == [[4, 4, 20, 20]]


@pytest.mark.parametrize(
    ("box", "reason"),
    [
        (("cat", 1, 1, 45, 10), "box outside the 40x30 image"),
        (("cat", 0, 1, 5, 10), "box outside the 40x30 image"),
        (("cat", 10, 1, 9, 10), "zero or negative size"),
        (("bird", 1, 1, 5, 5), "unknown class 'bird'"),
        (("cat", 1, 1, "x", 5), "malformed: needs <name> and <bndbox>"),
    ],
)
def test_voc_bad_object_names_the_file_and_object(tmp_path, box, reason):
    root = voc_folder(tmp_path, [box])
    where = "phone/annotations/a.xml object 1"
    expect(root, "voc", where, reason, "phone/images/a.png", classes=NAMES)


def test_voc_missing_image_malformed_xml_and_unannotated_image(tmp_path):
    root = voc_folder(tmp_path)
    write_voc(root / "phone", "gone", "gone.png", (8, 8), [])
    expect(root, "voc", "phone/annotations/gone.xml", "image missing", None)
    (root / "phone" / "annotations" / "gone.xml").unlink()
    (root / "phone" / "annotations" / "a.xml").write_text("<annotation><filename>a.png")
    expect(root, "voc", "phone/annotations/a.xml", "malformed XML", "phone/images/a.png")
    expect(root, "voc", "phone/images/a.png", "not annotated", "phone/images/a.png")


# From file pixels to stored pixels ------------------------------------------------------------


@pytest.mark.parametrize("resize", ["stretch", "letterbox", "centre_crop"])
@pytest.mark.parametrize("size", [(60, 30), (30, 60)])
def test_stored_boxes_follow_ingests_resize(tmp_path, resize, size):
    """A white rectangle decoded by ingest lands where stored_boxes puts its box (1 px)."""
    path = tmp_path / "image.png"
    image = Image.new("L", size, 0)
    box = [size[0] * 0.3, size[1] * 0.4, size[0] * 0.7, size[1] * 0.8]
    ImageDraw.Draw(image).rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=255)
    image.save(path)
    pixels = decode_image(str(path), DecodeSpec(32, 32, 1, resize))[..., 0]
    mapped, keep = stored_boxes(np.array([box]), *size, (32, 32), resize)
    assert keep.all()
    rows, cols = np.flatnonzero((pixels > 127).any(axis=1)), np.flatnonzero((pixels > 127).any(0))
    found = [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]
    np.testing.assert_allclose(mapped[0], found, atol=1.0)


def test_centre_crop_drops_boxes_cut_off():
    mapped, keep = stored_boxes(
        np.array([[0, 0, 10, 10], [30, 0, 40, 10]]), 80, 20, (20, 20), "centre_crop"
    )
    assert keep.tolist() == [False, True]  # the crop keeps columns 30..50
    assert mapped[1].tolist() == [0, 0, 10, 10]


def test_the_box_table_of_an_ingested_store_is_keyed_by_id_in_stored_pixels(tmp_path):
    read = read_annotations(coco_folder(tmp_path), "coco")
    manifest = pd.DataFrame(
        {
            "id": ["id-a", "id-good", "id-a"],  # the last: identical pixels, a later file
            "meta.where": ["phone/images/a.png", "phone/images/good.png", "phone/images/good.png"],
        }
    )
    table, cut = stored_box_table(read, manifest, "meta.where", (20, 20), "letterbox")
    assert cut == 0
    assert table["id"].tolist() == ["id-a", "id-a", "id-good"]
    assert table["object"].tolist() == [0, 1, 0]
    # a.png (40x30) is scaled by 0.5 to 20x15 and padded 2 rows at the top
    expected = [[1, 3.5, 6, 7.5], [0, 2, 20, 17], [1, 1, 6, 6]]
    np.testing.assert_allclose(table[["x_min", "y_min", "x_max", "y_max"]], expected)
    validate_boxes(table, manifest["id"], read.classes, (20, 20))
