"""Class masks from the canvases' instance masks; users' index / palette / COCO masks and
every bad case named by file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.digit_stores import real_digits
from PIL import Image
from pycocotools import mask as coco_mask

from traindev.config import CanvasParams
from traindev.data.sources.problems import BadInputError
from traindev.tasks.detection.box_table import box_frame
from traindev.tasks.detection.canvases import build_canvases
from traindev.tasks.segmentation.masks import (
    checked,
    class_masks_from_instances,
    read_class_masks,
    read_coco_masks,
    read_mask_folder,
    segmentation_classes,
    write_class_masks,
)
from traindev.tasks.segmentation.params import MaskParams

PARAMS = MaskParams(classes=["background", "cat", "dog"])


def test_class_masks_take_each_instances_label():
    instances = np.zeros((2, 4, 4), np.uint8)
    instances[0, 0, :2] = 1
    instances[0, 3, 3] = 2
    instances[1, 1:3, 1:3] = 1
    boxes = box_frame(["a", "a", "b"], [0, 1, 0], ["7", "2", "2"], np.zeros((3, 4)))
    classes = segmentation_classes([str(d) for d in range(10)])
    masks = class_masks_from_instances(instances, boxes, ["a", "b"], [str(d) for d in range(10)])
    assert masks.dtype == np.uint8
    assert classes[masks[0, 0, 0]] == "7" and classes[masks[0, 3, 3]] == "2"
    assert classes[masks[1, 1, 1]] == "2" and masks[0, 2, 2] == 0 and masks[1].sum() == 4 * 3


def test_canvas_class_masks_give_each_digits_pixels_its_class():
    params = CanvasParams(size=(32, 40), objects=(1, 3), digit_size=(8, 16), clutter=(1, 2))
    canvases = build_canvases([(real_digits(), 20)], params)
    ids = canvases.manifest["id"].tolist()
    masks = class_masks_from_instances(canvases.masks, canvases.boxes, ids, canvases.classes)
    names = segmentation_classes(canvases.classes)
    for row, image_id in enumerate(ids):
        objects = canvases.boxes[canvases.boxes["id"] == image_id]
        for obj, label in zip(objects["object"], objects["label"], strict=True):
            assert {names[v] for v in np.unique(masks[row][canvases.masks[row] == obj + 1])} == {
                label
            }
        assert (masks[row][canvases.masks[row] == 0] == 0).all()  # clutter stays background


def test_class_masks_round_trip_memory_mapped(tmp_path):
    masks = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_class_masks(tmp_path, masks)
    read = read_class_masks(tmp_path)
    assert isinstance(read, np.memmap) and np.array_equal(read, masks)


def _image(path, size=(4, 5), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size[1], size[0])).save(path)


def _mask(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(values, np.uint8)).save(path)


def test_index_masks_are_read_beside_their_images(tmp_path):
    values = np.zeros((4, 5), np.uint8)
    values[1, 1], values[2, 2] = 2, 255
    _image(tmp_path / "images" / "x.png")
    _mask(tmp_path / "masks" / "x.png", values)
    result = read_mask_folder(tmp_path, PARAMS)
    assert result.problems == [] and np.array_equal(result.masks[0], values)


def test_palette_png_is_read_as_its_indices(tmp_path):
    _image(tmp_path / "images" / "x.jpg")
    mask = Image.fromarray(np.full((4, 5), 1, np.uint8), mode="P")
    mask.putpalette([0, 0, 0, 200, 10, 10, 10, 200, 10])
    (tmp_path / "masks").mkdir()
    mask.save(tmp_path / "masks" / "x.png")
    assert read_mask_folder(tmp_path, PARAMS).masks[0].tolist() == np.ones((4, 5)).tolist()


def test_colour_masks_map_through_the_palette(tmp_path):
    params = MaskParams(
        classes=["background", "cat"], palette={"background": (0, 0, 0), "cat": (255, 0, 0)}
    )
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    _image(tmp_path / "images" / "x.png")
    (tmp_path / "masks").mkdir()
    Image.fromarray(rgb).save(tmp_path / "masks" / "x.png")
    assert read_mask_folder(tmp_path, params).masks[0][0, 0] == 1
    rgb[1, 1] = (0, 255, 0)
    Image.fromarray(rgb).save(tmp_path / "masks" / "x.png")
    (problem,) = read_mask_folder(tmp_path, params).problems
    assert problem.where == "masks/x.png" and "not in the palette" in problem.reason


def test_every_bad_mask_is_named_by_its_file(tmp_path):
    for stem in ["good", "missing", "small", "values"]:
        _image(tmp_path / "images" / f"{stem}.png")
    _mask(tmp_path / "masks" / "good.png", np.zeros((4, 5)))
    _mask(tmp_path / "masks" / "small.png", np.zeros((3, 5)))
    _mask(tmp_path / "masks" / "values.png", np.full((4, 5), 7))
    result = read_mask_folder(tmp_path, PARAMS)
    assert [image.name for image in result.images] == ["good.png"]
    reasons = {problem.where: problem.reason for problem in result.problems}
    assert reasons.keys() == {"images/missing.png", "masks/small.png", "masks/values.png"}
    assert "missing mask" in reasons["images/missing.png"]
    assert "(3, 5)" in reasons["masks/small.png"] and "(4, 5)" in reasons["masks/small.png"]
    assert "[7]" in reasons["masks/values.png"]
    assert checked(result, "skip", "masks").images == result.images
    with pytest.raises(BadInputError, match="3 bad input"):
        checked(result, "fail", "masks")


def test_palette_naming_an_unknown_class_is_refused():
    with pytest.raises(ValueError, match="not in classes"):
        MaskParams(classes=["background"], palette={"cat": (1, 2, 3)})


def test_coco_polygons_and_rle_are_decoded_with_pycocotools(tmp_path):
    _image(tmp_path / "a.png", size=(10, 10))
    _image(tmp_path / "b.png", size=(10, 10))
    square = np.zeros((10, 10), np.uint8)
    square[5:9, 5:9] = 1
    rle = coco_mask.encode(np.asfortranarray(square))
    rle["counts"] = rle["counts"].decode()
    document = {
        "images": [
            {"id": 1, "file_name": "a.png", "height": 10, "width": 10},
            {"id": 2, "file_name": "b.png", "height": 10, "width": 10},
            {"id": 3, "file_name": "c.png", "height": 10, "width": 10},
        ],
        "categories": [
            {"id": 1, "name": "cat"},
            {"id": 2, "name": "dog"},
            {"id": 3, "name": "eel"},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]]},
            {"id": 2, "image_id": 1, "category_id": 2, "segmentation": rle},
            {"id": 3, "image_id": 2, "category_id": 3, "segmentation": rle},
        ],
    }
    (tmp_path / "coco.json").write_text(json.dumps(document))
    result = read_coco_masks(tmp_path / "coco.json", tmp_path, PARAMS)
    (mask,) = result.masks
    assert mask[1, 1] == 1 and mask[6, 6] == 2 and mask[9, 0] == 0
    assert (mask == 2).sum() == 16
    reasons = sorted(problem.reason for problem in result.problems)
    assert "eel" in reasons[0] and reasons[1] == "image file not found"
