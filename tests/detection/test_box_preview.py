"""The preview grid draws true boxes (and predicted ones when given) over the images."""

from __future__ import annotations

import io

import numpy as np
from helpers.digit_stores import real_digits, synthetic_digits
from PIL import Image

from traindev.config import CanvasParams
from traindev.tasks.detection.canvases import build_canvases, write_canvases
from traindev.tasks.detection.preview import (
    PREDICTED_COLOUR,
    TRUE_COLOUR,
    boxes_grid_png,
    store_preview_png,
)

CLASSES = ["a", "b"]
IMAGES = np.zeros((2, 16, 16, 1), np.uint8)


def colour_pixels(png: bytes, colour: str) -> int:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target).sum(axis=-1) < 30).sum())


def test_boxes_are_drawn_in_their_colours_only_where_given():
    empty = [(np.zeros((0, 4), np.float32), np.zeros(0, np.int64))] * 2
    boxed = [(np.array([[2, 2, 12, 12]], np.float32), np.array([1])), *empty[1:]]
    predicted = [(np.array([[3, 3, 9, 9]], np.float32), np.array([0]), np.array([0.9]))] * 2
    plain = boxes_grid_png(IMAGES, 16, empty, CLASSES, ["x", "y"], "t")
    assert colour_pixels(plain, TRUE_COLOUR) == 0
    drawn = boxes_grid_png(IMAGES, 16, boxed, CLASSES, ["x", "y"], "t", predicted)
    assert colour_pixels(drawn, TRUE_COLOUR) > 50
    assert colour_pixels(drawn, PREDICTED_COLOUR) > 50
    assert drawn == boxes_grid_png(IMAGES, 16, boxed, CLASSES, ["x", "y"], "t", predicted)


def test_a_canvas_store_previews_each_domain(tmp_path):
    params = CanvasParams(size=(32, 32), digit_size=(8, 16))
    made = build_canvases([(real_digits(), 6), (synthetic_digits(), 6)], params)
    write_canvases(tmp_path / "canvases", made, params)
    png = store_preview_png(tmp_path / "canvases", per_domain=2)
    assert Image.open(io.BytesIO(png)).size[0] > 300
    assert colour_pixels(png, TRUE_COLOUR) > 100
