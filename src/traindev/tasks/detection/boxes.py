"""Box geometry and non-max suppression in plain torch.

torchvision's compiled `box_iou` and `nms` do not load beside this torch build (docs/detection.md),
so detection keeps its own, vectorised over boxes and tested against pycocotools' IoU and a
brute-force NMS. Boxes are (x_min, y_min, x_max, y_max) float pixels, the package's convention.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class Detections(NamedTuple):
    """One image's predictions: boxes (K, 4) xyxy pixels, scores (K,), class indices (K,) int64."""

    boxes: Tensor
    scores: Tensor
    classes: Tensor

    @classmethod
    def empty(cls, device: torch.device | str | None = None) -> Detections:
        """No detection: the shapes and dtypes an image without predictions still has."""
        return cls(
            torch.zeros((0, 4), device=device),
            torch.zeros((0,), device=device),
            torch.zeros((0,), dtype=torch.int64, device=device),
        )


def box_area(boxes: Tensor) -> Tensor:
    """Area of each box (..., 4); a degenerate box (x_max <= x_min or y_max <= y_min) has 0."""
    width = (boxes[..., 2] - boxes[..., 0]).clamp(min=0)
    height = (boxes[..., 3] - boxes[..., 1]).clamp(min=0)
    return width * height


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Intersection over union of every box in `a` (N, 4) with every box in `b` (M, 4): (N, M).

    Boxes that only touch share no area (IoU 0); a pair whose union is empty (two degenerate
    boxes) has IoU 0, as pycocotools counts it, never NaN.
    """
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    overlap = (bottom_right - top_left).clamp(min=0)
    intersection = overlap[..., 0] * overlap[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - intersection
    return torch.where(union > 0, intersection / union.clamp(min=torch.finfo(union.dtype).tiny), 0)


def _greedy_suppression(iou: Tensor, iou_threshold: float) -> Tensor:
    """Positions kept by greedy suppression over boxes already sorted by decreasing score.

    The loop runs once per kept box; each step drops, in one vectorised comparison, every
    remaining box that overlaps the kept one at IoU >= threshold.
    """
    suppresses = iou >= iou_threshold
    remaining = torch.arange(iou.shape[0], device=iou.device)
    kept = []
    while remaining.numel():
        best, rest = remaining[0], remaining[1:]
        kept.append(best)
        remaining = rest[~suppresses[best, rest]]
    if not kept:
        return remaining
    return torch.stack(kept)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Non-max suppression as the notes run it: indices of the kept boxes, highest score first.

    Take the box with the highest score, discard every other box overlapping it at
    IoU >= `iou_threshold` (the notes count IoU >= 0.5 as the same object; torchvision discards
    only above the threshold), repeat on what remains. Equal scores keep their input order.
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    sorted_boxes = boxes[order]
    return order[_greedy_suppression(box_iou(sorted_boxes, sorted_boxes), iou_threshold)]


def batched_nms(boxes: Tensor, scores: Tensor, classes: Tensor, iou_threshold: float) -> Tensor:
    """Non-max suppression run independently for each class, as the notes ask for several classes.

    Boxes of different classes never suppress each other. Returns the kept indices over all
    classes, highest score first.
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    sorted_boxes, sorted_classes = boxes[order], classes[order]
    iou = box_iou(sorted_boxes, sorted_boxes)
    iou = torch.where(sorted_classes[:, None] == sorted_classes[None, :], iou, 0)
    return order[_greedy_suppression(iou, iou_threshold)]


def xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    """(x_min, y_min, x_max, y_max) -> (centre x, centre y, width, height)."""
    x_min, y_min, x_max, y_max = boxes.unbind(-1)
    return torch.stack(
        ((x_min + x_max) / 2, (y_min + y_max) / 2, x_max - x_min, y_max - y_min), dim=-1
    )


def cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    """(centre x, centre y, width, height) -> (x_min, y_min, x_max, y_max)."""
    cx, cy, width, height = boxes.unbind(-1)
    return torch.stack((cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2), dim=-1)


def xyxy_to_xywh(boxes: Tensor) -> Tensor:
    """(x_min, y_min, x_max, y_max) -> COCO's (x_min, y_min, width, height)."""
    x_min, y_min, x_max, y_max = boxes.unbind(-1)
    return torch.stack((x_min, y_min, x_max - x_min, y_max - y_min), dim=-1)


def xywh_to_xyxy(boxes: Tensor) -> Tensor:
    """COCO's (x_min, y_min, width, height) -> (x_min, y_min, x_max, y_max)."""
    x_min, y_min, width, height = boxes.unbind(-1)
    return torch.stack((x_min, y_min, x_min + width, y_min + height), dim=-1)
