"""A trained YOLO detector run over a store's rows: per-image Detections for evaluation.

What evaluate passes to metrics.py, tide.py and label_issues.py: one `Detections` per row in
row order, on the host, boxes in pixels of the stored image. Batches stream from the
memory-mapped store (a test split may be larger than the device holds); the model runs in eval
mode under the inference autocast. `score_threshold` is the operating p_c threshold (the notes'
0.6) for what is reported as detections; pass a low one (e.g. 0.01) for mAP's full
precision-recall curve, then metrics.py applies the operating threshold itself.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from traindev.data.batches import to_model_input
from traindev.data.store import ImageStore
from traindev.tasks.detection.boxes import Detections
from traindev.tasks.detection.encoding import decode
from traindev.tasks.detection.targets import YoloTargets
from traindev.training.trainer import autocast_context


@torch.no_grad()
def predict_detections(
    model: nn.Module,
    store: ImageStore,
    rows: np.ndarray,
    targets: YoloTargets,
    score_threshold: float,
    iou_threshold: float,
    batch_size: int = 256,
    device: torch.device | None = None,
) -> list[Detections]:
    """Detections of each of `rows` (threshold, then per-class NMS), in row order, on the CPU."""
    device = device or next(model.parameters()).device
    model.eval()
    anchors = targets.anchors.to(device)
    found: list[Detections] = []
    rows = np.asarray(rows, dtype=np.int64)
    for start in range(0, len(rows), batch_size):
        part = np.sort(rows[start : start + batch_size])  # sequential reads of the memmap
        back = np.argsort(np.argsort(rows[start : start + batch_size], kind="stable"))
        pixels = torch.from_numpy(np.ascontiguousarray(store.pixels[part])).to(device)
        with autocast_context(device):
            raw = model(to_model_input(pixels, store.pixel_max))
        batch = decode(raw, anchors, targets.image_size, score_threshold, iou_threshold)
        found.extend(Detections(*(field.cpu() for field in batch[i])) for i in back.tolist())
    return found
