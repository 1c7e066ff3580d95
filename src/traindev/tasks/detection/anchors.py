"""Anchor shapes: chosen by k-means on the training boxes, and assigned to objects by shape IoU.

The notes pick anchors "by k-means clustering of object shapes" and give each object the anchor
whose shape best overlaps its box. Both compare shapes only (width, height), as if the two boxes
shared a centre; YOLOv2 clusters with the distance 1 - IoU so that large boxes do not dominate
as they would under a Euclidean distance.
"""

from __future__ import annotations

import torch
from torch import Tensor


def shape_iou(wh_a: Tensor, wh_b: Tensor) -> Tensor:
    """IoU of every shape in `wh_a` (N, 2) with every shape in `wh_b` (M, 2), centres aligned."""
    intersection = torch.minimum(wh_a[:, None, 0], wh_b[None, :, 0]) * torch.minimum(
        wh_a[:, None, 1], wh_b[None, :, 1]
    )
    area_a = (wh_a[:, 0] * wh_a[:, 1])[:, None]
    area_b = (wh_b[:, 0] * wh_b[:, 1])[None, :]
    union = area_a + area_b - intersection
    return torch.where(union > 0, intersection / union.clamp(min=torch.finfo(union.dtype).tiny), 0)


def best_anchor(wh: Tensor, anchors: Tensor) -> Tensor:
    """Index of the anchor whose shape has the highest IoU with each object's shape (N,).

    `wh` (N, 2) and `anchors` (B, 2) are (width, height) in the same unit; a tie goes to the
    first anchor.
    """
    return shape_iou(wh, anchors).argmax(dim=1)


def _plus_plus_start(wh: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """k-means++ seeding under the 1 - IoU distance: spread starting shapes, seeded."""
    first = torch.randint(len(wh), (1,), generator=generator)
    centres = wh[first]
    for _ in range(1, k):
        distance = 1 - shape_iou(wh, centres).max(dim=1).values
        weights = distance.clamp(min=0) ** 2
        if weights.sum() <= 0:  # fewer distinct shapes than k: any point will do
            weights = torch.ones_like(weights)
        chosen = torch.multinomial(weights, 1, generator=generator)
        centres = torch.cat((centres, wh[chosen]))
    return centres


def kmeans_anchors(wh: Tensor, k: int, seed: int, max_iterations: int = 300) -> Tensor:
    """`k` anchor shapes (k, 2) clustering the object shapes `wh` (N, 2) with distance 1 - IoU.

    Lloyd's iterations from a seeded k-means++ start: each shape joins the centre it overlaps
    most, each centre moves to the mean shape of its members (YOLOv2's recipe), until no shape
    changes cluster. An emptied cluster restarts at the shape worst covered by the others.
    Anchors come back in the unit of `wh`, sorted by area, so the same seed gives the same
    anchors in the same order.
    """
    if k < 1 or len(wh) < k:
        raise ValueError(f"k-means needs 1 <= k <= the number of shapes; got k={k}, {len(wh)}")
    # one pass over the training shapes: on the CPU, where the seeded generator lives
    dtype, device, wh = wh.dtype, wh.device, wh.detach().to("cpu", torch.float64)
    generator = torch.Generator().manual_seed(seed)
    centres = _plus_plus_start(wh, k, generator)
    assignment = torch.full((len(wh),), -1, dtype=torch.int64)
    for _ in range(max_iterations):
        new_assignment = shape_iou(wh, centres).argmax(dim=1)
        if torch.equal(new_assignment, assignment):
            break
        assignment = new_assignment
        counts = torch.bincount(assignment, minlength=k)
        sums = torch.zeros_like(centres).index_add_(0, assignment, wh)
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centres)
        for empty in torch.nonzero(counts == 0).flatten().tolist():
            worst = shape_iou(wh, centres).max(dim=1).values.argmin()
            centres[empty] = wh[worst]
    return centres[torch.argsort(centres[:, 0] * centres[:, 1], stable=True)].to(device, dtype)
