"""The trainer's objective for a YOLO detector: the YOLOv1/v2 loss, and the image error.

`Trainer` asks an objective for a loss *sum* over the batch (it divides by the global batch
size itself, so DDP's mean gradient is the single-process one) and for (wrong, scored) counts
in eval mode, which drive the learning curves and early stopping. For detection a mistake is
the contract's per-image error: after the p_c threshold and NMS, a true object without a
same-class detection at IoU >= 0.5, or a detection that matches no true object (greedy by
score, one detection per object). The true objects are read back from the encoded target, so
an object that found no free anchor in its cell is not counted here (evaluation reads the box
table instead, through metrics.py).
"""

from __future__ import annotations

import torch
from torch import Tensor

from traindev.tasks.detection.boxes import Detections, box_iou
from traindev.tasks.detection.encoding import CLASSES, P_C, decode, grid_boxes
from traindev.tasks.detection.losses import yolo_loss
from traindev.tasks.detection.targets import YoloTargets

MATCH_IOU = 0.5  # the notes' "correct" IoU


def target_objects(target: Tensor, image_size: tuple[int, int]) -> list[Detections]:
    """The true objects each encoded target (N, S, S, B, 5 + C) holds, score 1."""
    boxes = grid_boxes(target, image_size)
    present = target[..., P_C] == 1
    classes = target[..., CLASSES].argmax(dim=-1)
    return [
        Detections(boxes[n][present[n]], target[n][present[n]][:, P_C], classes[n][present[n]])
        for n in range(len(target))
    ]


def image_is_wrong(predicted: Detections, truth: Detections, iou: float = MATCH_IOU) -> bool:
    """The per-image error: a miss or a false detection after greedy matching by score."""
    if len(predicted.scores) == 0 or len(truth.scores) == 0:
        return len(predicted.scores) != len(truth.scores)
    overlap = box_iou(predicted.boxes.float(), truth.boxes.float())
    overlap = overlap.masked_fill(predicted.classes[:, None] != truth.classes[None, :], -1.0)
    free = torch.ones(len(truth.scores), dtype=torch.bool, device=overlap.device)
    for d in torch.argsort(predicted.scores, descending=True, stable=True).tolist():
        candidates = overlap[d].masked_fill(~free, -1.0)
        best = int(candidates.argmax())
        if candidates[best] < iou:
            return True  # a detection with no true object left to match
        free[best] = False
    return bool(free.any())


class YoloObjective:
    """YOLO's loss and the per-image error, in the trainer's `Objective` interface."""

    def __init__(
        self,
        targets: YoloTargets,
        score_threshold: float = 0.6,
        iou_threshold: float = 0.5,
        lambda_coord: float = 5.0,
        lambda_noobj: float = 0.5,
    ) -> None:
        self.targets = targets
        self.score_threshold, self.iou_threshold = score_threshold, iou_threshold
        self.lambda_coord, self.lambda_noobj = lambda_coord, lambda_noobj

    def loss_sum(self, raw: Tensor, target: Tensor) -> Tensor:
        anchors = self.targets.anchors.to(raw.device)
        mean = yolo_loss(raw, target, anchors, self.lambda_coord, self.lambda_noobj)
        return mean * len(raw)  # yolo_loss averages over the batch; the trainer wants the sum

    def detections(self, raw: Tensor) -> list[Detections]:
        """Each image's detections at the operating p_c threshold and NMS IoU."""
        anchors = self.targets.anchors.to(raw.device)
        return decode(
            raw, anchors, self.targets.image_size, self.score_threshold, self.iou_threshold
        )

    def mistakes(self, raw: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        truths = target_objects(target.float(), self.targets.image_size)
        wrong = sum(image_is_wrong(p, t) for p, t in zip(self.detections(raw), truths, strict=True))
        return torch.tensor(wrong, device=raw.device), torch.tensor(len(raw), device=raw.device)
