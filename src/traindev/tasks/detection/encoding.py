"""Targets and predictions in the notes' layout y = (p_c, b_x, b_y, b_h, b_w, c_1 .. c_C).

YOLO: `encode` turns one image's boxes into the (S, S, B, 5 + C) target, each object in the cell
holding its midpoint and the anchor whose shape best overlaps it; `decode` turns raw outputs
(N, S, S, B, 5 + C) into boxes after the p_c threshold and per-class non-max suppression.
Classification with localization: the same vector once per image, the box relative to the image.

Cells are indexed [row, column]: target[i, j] is the cell i cells down and j across, so a
convolutional map (N, channels, S, S) permuted to (N, S, S, channels) lines up with it.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from traindev.tasks.detection.anchors import kmeans_anchors, shape_iou
from traindev.tasks.detection.boxes import (
    Detections,
    batched_nms,
    cxcywh_to_xyxy,
    xyxy_to_cxcywh,
)

P_C = 0
BOX = slice(1, 5)  # (b_x, b_y, b_h, b_w): note height before width, as the notes write y
CLASSES = slice(5, None)

ImageSize = int | tuple[int, int]


def _height_width(image_size: ImageSize) -> tuple[float, float]:
    """(height, width) in pixels from a square side or a (height, width) pair."""
    if isinstance(image_size, int):
        return float(image_size), float(image_size)
    return float(image_size[0]), float(image_size[1])


def _single_anchor(anchors: Tensor | None) -> Tensor:
    """Anchors (B, 2) as (width, height) in cell units; none means one anchor of one cell."""
    return torch.ones(1, 2) if anchors is None else anchors


def _xyhw_to_cxcywh(box: Tensor) -> Tensor:
    """The notes' (b_x, b_y, b_h, b_w) order to (centre x, centre y, width, height)."""
    return box[..., [0, 1, 3, 2]]


def anchors_from_boxes(
    boxes: Tensor, image_size: ImageSize, grid: int, count: int, seed: int
) -> Tensor:
    """`count` anchors (width, height) in cell units by k-means on training boxes (K, 4) xyxy.

    The shapes are clustered in cell units, the unit `encode` and `decode` read anchors in; IoU
    distance makes the result the same, up to rounding, as clustering pixel shapes.
    """
    height, width = _height_width(image_size)
    cell = torch.tensor([width / grid, height / grid], dtype=torch.float64)
    shapes = xyxy_to_cxcywh(boxes.detach().to("cpu", torch.float64))[:, 2:] / cell
    return kmeans_anchors(shapes, count, seed).to(boxes.device, torch.float32)


def assign(
    boxes: Tensor, image_size: ImageSize, grid: int, anchors: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """The (row, column, anchor) slot of each object (K,); an anchor of -1 means not placed.

    The notes' rule: the object's midpoint picks the cell, the best shape IoU picks the anchor.
    When two objects of one cell want the same anchor (the notes leave the tie-break open), the
    better-fitting one keeps it and the other takes its next-best free anchor of that cell; an
    object finding every anchor of its cell taken (more objects than anchors) is not placed.
    """
    boxes = boxes.float()
    anchors = _single_anchor(anchors).to(boxes)
    height, width = _height_width(image_size)
    cell_h, cell_w = height / grid, width / grid
    centre = xyxy_to_cxcywh(boxes)
    column = (centre[:, 0] / cell_w).floor().long().clamp(0, grid - 1)
    row = (centre[:, 1] / cell_h).floor().long().clamp(0, grid - 1)
    shape = centre[:, 2:] / torch.tensor([cell_w, cell_h]).to(boxes)
    fit, preference = shape_iou(shape, anchors).sort(dim=1, descending=True, stable=True)
    count = len(anchors)
    anchor = torch.full((len(boxes),), -1, dtype=torch.int64, device=boxes.device)
    taken = torch.zeros(grid * grid * count, dtype=torch.bool, device=boxes.device)
    for rank in range(count):
        waiting = torch.nonzero(anchor < 0).flatten()
        slot = (row[waiting] * grid + column[waiting]) * count + preference[waiting, rank]
        free = ~taken[slot]
        waiting, slot = waiting[free], slot[free]
        by_fit = torch.sort(fit[waiting, rank], descending=True, stable=True).indices
        by_slot = by_fit[torch.sort(slot[by_fit], stable=True).indices]
        first = torch.ones_like(by_slot, dtype=torch.bool)
        first[1:] = slot[by_slot[1:]] != slot[by_slot[:-1]]
        winners = by_slot[first]
        anchor[waiting[winners]] = preference[waiting[winners], rank]
        taken[slot[winners]] = True
    return row, column, anchor


def encode(
    boxes: Tensor,
    classes: Tensor,
    image_size: ImageSize,
    grid: int,
    anchors: Tensor | None,
    num_classes: int,
) -> Tensor:
    """The YOLO target (S, S, B, 5 + C) of one image's boxes (K, 4) xyxy pixels and classes (K,).

    p_c is 1 where an object was placed, b_x and b_y its midpoint relative to the cell, b_h and
    b_w its size in cell units (above 1 when larger than a cell), the classes one-hot; every
    other entry is 0 ("don't care" in the notes; the loss reads only p_c there). `anchors`
    (B, 2) are (width, height) in cell units; None is the notes' grid without anchors (B = 1).
    """
    anchors = _single_anchor(anchors)
    height, width = _height_width(image_size)
    target = torch.zeros(grid, grid, len(anchors), 5 + num_classes, device=boxes.device)
    row, column, anchor = assign(boxes, image_size, grid, anchors)
    placed = anchor >= 0
    row, column, anchor = row[placed], column[placed], anchor[placed]
    cell = torch.tensor([width / grid, height / grid], device=boxes.device)
    centre = xyxy_to_cxcywh(boxes[placed].float())
    offset = centre[:, :2] / cell - torch.stack((column, row), dim=1)
    size = centre[:, 2:] / cell
    vector = torch.cat(
        (
            torch.ones(len(row), 1, device=boxes.device),
            offset,
            size[:, [1, 0]],
            torch.nn.functional.one_hot(classes[placed].long(), num_classes).float(),
        ),
        dim=1,
    )
    target[row, column, anchor] = vector
    return target


def activate(raw: Tensor, anchors: Tensor | None) -> Tensor:
    """Raw outputs (..., S, S, B, 5 + C) in the target's units (YOLOv2's parametrisation).

    p_c = sigmoid(logit), b_x = sigmoid(t_x), b_y = sigmoid(t_y), b_h = anchor_h * exp(t_h),
    b_w = anchor_w * exp(t_w), classes = softmax(logits).
    """
    anchors = _single_anchor(anchors).to(raw)
    return torch.cat(
        (
            torch.sigmoid(raw[..., :3]),
            anchors[:, 1:2] * torch.exp(raw[..., 3:4]),
            anchors[:, 0:1] * torch.exp(raw[..., 4:5]),
            torch.softmax(raw[..., CLASSES], dim=-1),
        ),
        dim=-1,
    )


def raw_from_target(target: Tensor, anchors: Tensor | None, bound: float = 20.0) -> Tensor:
    """The raw output a perfect model would give for `target`: the inverse of `activate`.

    Logits are clipped to +-`bound` (sigmoid(20) = 1 - 2e-9), so 0 and 1 map to finite values.
    Oracles and tests use it to feed known answers through `decode` and the losses.
    """
    anchors = _single_anchor(anchors).to(target)
    smallest = torch.finfo(target.dtype).tiny
    return torch.cat(
        (
            torch.logit(target[..., :3]).clamp(-bound, bound),
            torch.log(target[..., 3:4].clamp(min=smallest) / anchors[:, 1:2]),
            torch.log(target[..., 4:5].clamp(min=smallest) / anchors[:, 0:1]),
            torch.log(target[..., CLASSES]).clamp(min=-bound),
        ),
        dim=-1,
    )


def _cell_boxes(
    vectors: Tensor, row: Tensor, column: Tensor, grid: int, image_size: ImageSize
) -> Tensor:
    """Pixel boxes (..., 4) xyxy of vectors (..., 5 + C) sitting in cells (row, column)."""
    height, width = _height_width(image_size)
    cell_w, cell_h = width / grid, height / grid
    centre_size = _xyhw_to_cxcywh(vectors[..., BOX])
    return cxcywh_to_xyxy(
        torch.stack(
            (
                (column + centre_size[..., 0]) * cell_w,
                (row + centre_size[..., 1]) * cell_h,
                centre_size[..., 2] * cell_w,
                centre_size[..., 3] * cell_h,
            ),
            dim=-1,
        )
    )


def grid_boxes(vectors: Tensor, image_size: ImageSize) -> Tensor:
    """Pixel boxes (..., S, S, B, 4) xyxy of activated or target vectors (..., S, S, B, 5 + C)."""
    grid = vectors.shape[-3]
    row = torch.arange(grid, device=vectors.device).view(grid, 1, 1)
    column = torch.arange(grid, device=vectors.device).view(1, grid, 1)
    return _cell_boxes(vectors, row, column, grid, image_size)


def _select(boxes: Tensor, vectors: Tensor, score_threshold: float) -> Detections:
    """Boxes, p_c scores and most likely classes of the rows whose p_c exceeds the threshold.

    `vectors` (K, 5 + C) hold p_c itself and class probabilities or logits (same argmax).
    """
    keep = vectors[:, P_C] > score_threshold
    return Detections(boxes[keep], vectors[keep, P_C], vectors[keep, CLASSES].argmax(dim=-1))


NMS_CHUNK = 256  # candidates suppressed together: more images per pass, yet short greedy steps


def _image_chunks(counts: list[int], limit: int) -> Iterator[tuple[int, int]]:
    """Ranges of consecutive candidates, whole images each, of about `limit` candidates at most.

    A range grows image by image and closes before the image that would take it past `limit`;
    an image with more candidates than `limit` is a range of its own.
    """
    low = high = 0
    for count in counts:
        if high > low and high - low + count > limit:
            yield low, high
            low = high
        high += count
    if high > low:
        yield low, high


def decode(
    raw: Tensor,
    anchors: Tensor | None,
    image_size: ImageSize,
    score_threshold: float,
    iou_threshold: float,
) -> list[Detections]:
    """Each image's detections from raw YOLO outputs (N, S, S, B, 5 + C), as the notes do it.

    Discard every box with p_c <= `score_threshold` (notes: 0.6), give each remaining box its
    most likely class, then run non-max suppression per class at `iou_threshold` (notes: 0.5).
    The score is p_c; boxes are xyxy pixels, highest score first.

    The whole batch is thresholded at once and only its candidates are activated; they are
    suppressed a chunk of images at a time, each (image, class) a group of its own, which gives
    exactly the per-image result without a Python step per image.
    """
    raw = raw.detach().float()  # a half-precision head would round boxes to whole pixels
    images, grid, num_classes = raw.shape[0], raw.shape[1], raw.shape[-1] - 5
    anchors = _single_anchor(anchors).to(raw)
    present = torch.sigmoid(raw[..., P_C]) > score_threshold
    image, row, column, anchor = torch.nonzero(present, as_tuple=True)
    vectors = activate(raw[image, row, column, anchor], anchors[anchor])  # candidates only
    boxes = _cell_boxes(vectors, row, column, grid, image_size)
    candidates = Detections(boxes, vectors[:, P_C], vectors[:, CLASSES].argmax(dim=-1))
    groups = image * num_classes + candidates.classes
    counts = torch.bincount(image, minlength=images).tolist()
    kept = [torch.zeros(0, dtype=torch.int64, device=raw.device)]
    for low, high in _image_chunks(counts, NMS_CHUNK):
        part = slice(low, high)
        order = batched_nms(
            candidates.boxes[part], candidates.scores[part], groups[part], iou_threshold
        )
        kept.append(low + order)
    kept = torch.cat(kept)
    kept = kept[torch.sort(image[kept], stable=True).indices]
    per_image = torch.bincount(image[kept], minlength=images).tolist()
    fields = [field[kept].split(per_image) for field in candidates]
    return [Detections(*parts) for parts in zip(*fields, strict=True)]


def encode_localization(
    boxes: Tensor, classes: Tensor, image_size: ImageSize, num_classes: int
) -> Tensor:
    """The classification-with-localization target (5 + C) of an image with at most one object.

    The notes' y: p_c = 1 and the box's midpoint and size relative to the image, (0, 0) the
    top-left corner and (1, 1) the bottom-right, with the class one-hot; all zeros when the
    image holds no object.
    """
    if len(boxes) > 1:
        raise ValueError(f"classification with localization takes one object; got {len(boxes)}")
    target = torch.zeros(5 + num_classes, device=boxes.device)
    if len(boxes) == 0:
        return target
    height, width = _height_width(image_size)
    cx, cy, box_w, box_h = xyxy_to_cxcywh(boxes[0].float()).tolist()
    target[P_C] = 1.0
    target[BOX] = torch.tensor([cx / width, cy / height, box_h / height, box_w / width])
    target[5 + int(classes[0])] = 1.0
    return target


def decode_localization(
    raw: Tensor, image_size: ImageSize, score_threshold: float
) -> list[Detections]:
    """Each image's detection (zero or one) from raw localization outputs (N, 5 + C).

    The head's p_c position holds a logit (sigmoid gives p_c), the box positions the image-relative
    (b_x, b_y, b_h, b_w) directly, the classes logits; an image is empty when p_c <= threshold.
    """
    raw = raw.detach().float()
    height, width = _height_width(image_size)
    centre_size = _xyhw_to_cxcywh(raw[:, BOX])
    boxes = cxcywh_to_xyxy(centre_size * torch.tensor([width, height, width, height]).to(raw))
    vectors = torch.cat((torch.sigmoid(raw[:, :1]), raw[:, 1:]), dim=1)
    return [_select(boxes[i : i + 1], vectors[i : i + 1], score_threshold) for i in range(len(raw))]
