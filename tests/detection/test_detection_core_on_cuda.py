"""The detection core gives on a CUDA device what it gives on the CPU (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch

from traindev.tasks.detection.anchors import kmeans_anchors
from traindev.tasks.detection.boxes import batched_nms
from traindev.tasks.detection.encoding import decode, encode
from traindev.tasks.detection.losses import localization_loss, yolo_loss


@pytest.mark.gpu
def test_encode_decode_nms_kmeans_and_losses_match_the_cpu_on_cuda():
    generator = torch.Generator().manual_seed(0)
    corner = torch.rand(30, 2, generator=generator) * 48
    boxes = torch.cat((corner, corner + 4 + torch.rand(30, 2, generator=generator) * 12), dim=1)
    classes = torch.randint(0, 3, (30,), generator=generator)
    scores = torch.rand(30, generator=generator)
    anchors = kmeans_anchors(boxes[:, 2:] - boxes[:, :2], 3, seed=0) / 16
    cuda = torch.device("cuda")
    assert torch.equal(
        kmeans_anchors((boxes[:, 2:] - boxes[:, :2]).to(cuda), 3, 0).cpu() / 16, anchors
    )
    assert torch.equal(
        batched_nms(boxes.to(cuda), scores.to(cuda), classes.to(cuda), 0.5).cpu(),
        batched_nms(boxes, scores, classes, 0.5),
    )
    target = encode(boxes, classes, 64, 4, anchors, 3)
    assert torch.equal(
        encode(boxes.to(cuda), classes.to(cuda), 64, 4, anchors.to(cuda), 3).cpu(), target
    )
    raw = torch.randn((2, *target.shape), generator=generator)
    batch = torch.stack((target, target))
    on_cpu = decode(raw, anchors, 64, 0.6, 0.5)
    on_gpu = decode(raw.to(cuda), anchors.to(cuda), 64, 0.6, 0.5)
    assert sum(len(found.boxes) for found in on_gpu) > 0
    for expected, found in zip(on_cpu, on_gpu, strict=True):
        for cpu_field, gpu_field in zip(expected, found, strict=True):
            torch.testing.assert_close(gpu_field.cpu(), cpu_field)
    torch.testing.assert_close(
        yolo_loss(raw.to(cuda), batch.to(cuda), anchors.to(cuda)).cpu(),
        yolo_loss(raw, batch, anchors),
    )
    flat_raw, flat_target = raw[:, 0, 0, 0], batch[:, 0, 0, 0]
    torch.testing.assert_close(
        localization_loss(flat_raw.to(cuda), flat_target.to(cuda), "common").cpu(),
        localization_loss(flat_raw, flat_target, "common"),
    )
