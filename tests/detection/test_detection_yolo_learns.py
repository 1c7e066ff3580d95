"""The small Darknet-style YOLO learns through the task's own target, loss and decode: its raw
layout is the one encoding.py reads (a mismatch of channel order would not fit the boxes)."""

from __future__ import annotations

import torch

from traindev.tasks.detection.boxes import box_iou
from traindev.tasks.detection.encoding import decode, encode
from traindev.tasks.detection.losses import yolo_loss
from traindev.tasks.detection.models.registry import build_detector

GRID, CLASSES = 4, 3
ANCHORS = torch.tensor([[1.0, 1.0], [2.0, 2.0]])  # (width, height) in cells


def canvases() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Four 64x64 canvases, each one filled rectangle whose class is its brightness."""
    boxes = torch.tensor(
        [
            [8.0, 8.0, 24.0, 28.0],
            [30.0, 10.0, 58.0, 40.0],
            [20.0, 36.0, 36.0, 52.0],
            [4, 40, 28, 60],
        ]
    )
    classes = torch.tensor([0, 1, 2, 1])
    images = torch.zeros(4, 1, 64, 64)
    for image, box, label in zip(images, boxes.long(), classes, strict=True):
        image[0, box[1] : box[3], box[0] : box[2]] = (1.0 + label) / CLASSES
    return images, boxes, classes


def test_a_darknet_small_yolo_fits_four_canvases() -> None:
    torch.manual_seed(0)
    images, boxes, classes = canvases()
    target = torch.stack(
        [
            encode(box[None], label[None], 64, GRID, ANCHORS, CLASSES)
            for box, label in zip(boxes, classes, strict=True)
        ]
    )
    params = {"backbone_params": {"filters": [8, 16, 32, 32]}, "head_channels": 32}
    model = build_detector("yolo", params, (1, 64, 64), CLASSES, grid=GRID, num_anchors=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = yolo_loss(model(images), target, ANCHORS)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 10
    with torch.no_grad():
        found = decode(model.eval()(images), ANCHORS, 64, 0.6, 0.5)
    for detections, box, label in zip(found, boxes, classes, strict=True):
        assert detections.classes[0] == label
        assert box_iou(detections.boxes[:1], box[None]).item() > 0.5
