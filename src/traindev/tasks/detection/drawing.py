"""Store images with true and predicted boxes drawn on them, for the sheet and the report.

The image is enlarged first (whole-number factor, nearest neighbour, as every thumbnail is),
then the boxes are drawn at the enlarged scale so a 1-pixel outline stays thin beside an 8-pixel
digit stroke. Colours (docs/detection.md, "The error-analysis sheet for detection"):

- green: true objects (box table), their class written inside the top-left corner;
- magenta: the detection a sheet row is about, "class score" written under its box (or above,
  at the bottom edge);
- orange: the image's other detections, for context (the higher-scoring twin of a duplicate,
  the detection a missed object lost to).

The row's own object, if any, is drawn twice as thick as the other true objects. Class labels
use Pillow's built-in bitmap font, so the same inputs always give the same pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import ImageDraw, ImageFont

from traindev.analysis.thumbnails import thumbnail_image

TRUE_COLOUR = (0, 200, 83)
ERROR_COLOUR = (255, 64, 160)
OTHER_COLOUR = (255, 167, 38)
DRAWN_SIZE = 192  # long side of a drawn thumbnail, pixels: room for labels on 64x64 canvases


@dataclass(frozen=True)
class DrawnBox:
    """One outline: a box (x_min, y_min, x_max, y_max) in stored-image pixels and its caption."""

    box: tuple[float, float, float, float]
    caption: str
    colour: tuple[int, int, int]
    width: int = 1


@dataclass(frozen=True)
class BoxLayer:
    """The outlines of one image, drawn in order (later ones on top)."""

    boxes: list[DrawnBox] = field(default_factory=list)

    def add(
        self,
        boxes: np.ndarray,
        captions: Sequence[str],
        colour: tuple[int, int, int],
        width: int = 1,
    ) -> None:
        for box, caption in zip(np.asarray(boxes, float).reshape(-1, 4), captions, strict=True):
            self.boxes.append(DrawnBox(tuple(float(v) for v in box), caption, colour, width))


def draw_boxes(
    image: np.ndarray, pixel_max: int, layer: BoxLayer, size: int = DRAWN_SIZE
) -> np.ndarray:
    """An RGB uint8 (h, w, 3) picture of a store image (H, W, C) with the layer's boxes."""
    picture = thumbnail_image(np.asarray(image), pixel_max, size).convert("RGB")
    scale_x = picture.width / image.shape[1]
    scale_y = picture.height / image.shape[0]
    pen = ImageDraw.Draw(picture)
    font = ImageFont.load_default_imagefont()
    for drawn in layer.boxes:
        x0, y0, x1, y1 = drawn.box
        outline = [
            round(x0 * scale_x),
            round(y0 * scale_y),
            max(round(x0 * scale_x), round(x1 * scale_x) - 1),
            max(round(y0 * scale_y), round(y1 * scale_y) - 1),
        ]
        pen.rectangle(outline, outline=drawn.colour, width=drawn.width)
        if drawn.caption:
            _caption(pen, font, drawn, outline, picture.height)
    return np.asarray(picture)


def _caption(
    pen: ImageDraw.ImageDraw,
    font: ImageFont.ImageFont,
    drawn: DrawnBox,
    outline: list[int],
    height: int,
) -> None:
    """True classes inside the top-left corner; detections below their box (above at the
    bottom edge), so a detection's label never hides the true label under it."""
    left, top, right, bottom = pen.textbbox((0, 0), drawn.caption, font=font)
    text_w, text_h = right - left, bottom - top
    x = outline[0] + drawn.width
    if drawn.colour == TRUE_COLOUR:
        y = outline[1] + drawn.width
    elif outline[3] + 2 + text_h < height:
        y = outline[3] + 2
    else:
        y = max(0, outline[1] - text_h - 2)
    pen.rectangle([x, y, x + text_w, y + text_h], fill=(0, 0, 0))
    pen.text((x - left, y - top), drawn.caption, fill=drawn.colour, font=font)
