"""Anchor shapes: shape IoU, assignment of objects to anchors, k-means with 1 - IoU distance."""

from __future__ import annotations

import pytest
import torch

from traindev.tasks.detection.anchors import best_anchor, kmeans_anchors, shape_iou


def test_shape_iou_compares_shapes_with_centres_aligned():
    # (2 x 4) against (4 x 2): the overlap is 2 x 2 = 4, the union 8 + 8 - 4 = 12, so 1/3;
    # (2 x 4) or (4 x 2) against (3 x 3): the overlap is 2 x 3 = 6, the union 8 + 9 - 6 = 11.
    iou = shape_iou(torch.tensor([[2.0, 4.0], [3.0, 3.0]]), torch.tensor([[4.0, 2.0], [3.0, 3.0]]))
    torch.testing.assert_close(iou, torch.tensor([[1 / 3, 6 / 11], [6 / 11, 1.0]]))
    # a nested shape: 1 x 1 inside 2 x 2 is 1 / 4
    assert shape_iou(torch.tensor([[1.0, 1.0]]), torch.tensor([[2.0, 2.0]])).item() == 0.25
    assert shape_iou(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.0, 3.0]])).item() == 0


def test_best_anchor_gives_tall_objects_the_tall_anchor_and_wide_ones_the_wide_anchor():
    anchors = torch.tensor([[1.0, 3.0], [3.0, 1.0], [6.0, 6.0]])  # tall, wide, large
    objects = torch.tensor([[0.8, 2.5], [2.9, 1.2], [5.0, 7.0], [1.2, 3.5], [4.0, 4.0]])
    # 4 x 4 overlaps the tall and wide anchors by 3 / 16, the large one by 16 / 36
    assert best_anchor(objects, anchors).tolist() == [0, 1, 2, 0, 2]
    # equal IoU with two anchors: the first wins
    assert (
        best_anchor(torch.tensor([[2.0, 2.0]]), torch.tensor([[2.0, 1.0], [1.0, 2.0]])).item() == 0
    )


def three_shape_families(count: int = 300, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Small squares, tall and wide boxes with noise; returns the shapes and the family means."""
    generator = torch.Generator().manual_seed(seed)
    means = torch.tensor([[4.0, 4.0], [6.0, 20.0], [24.0, 8.0]])
    family = torch.arange(count) % 3
    noise = 1 + 0.1 * torch.randn(count, 2, generator=generator)
    return means[family] * noise, means


def test_kmeans_anchors_find_the_shape_families_sorted_by_area():
    shapes, means = three_shape_families()
    anchors = kmeans_anchors(shapes, k=3, seed=0)
    assert anchors.shape == (3, 2) and anchors.dtype == shapes.dtype
    torch.testing.assert_close(anchors, means, rtol=0.05, atol=0)
    assert best_anchor(means, anchors).tolist() == [0, 1, 2]


def test_kmeans_anchors_end_at_the_mean_shape_of_their_members():
    shapes, _ = three_shape_families(count=200, seed=3)
    shapes = torch.cat((shapes, torch.rand(50, 2, generator=torch.Generator().manual_seed(1)) * 30))
    anchors = kmeans_anchors(shapes, k=5, seed=7).double()
    members = best_anchor(shapes.double(), anchors)
    for index in range(5):
        centre = shapes.double()[members == index].mean(dim=0)
        torch.testing.assert_close(anchors[index], centre)


def test_kmeans_anchors_are_reproducible_from_the_seed():
    shapes = torch.rand(400, 2, generator=torch.Generator().manual_seed(5)) * 40 + 1
    first = kmeans_anchors(shapes, k=5, seed=11)
    assert torch.equal(first, kmeans_anchors(shapes, k=5, seed=11))
    areas = first[:, 0] * first[:, 1]
    assert torch.all(areas[1:] >= areas[:-1])


def test_kmeans_anchors_with_fewer_distinct_shapes_than_k_still_return_k_anchors():
    shapes = torch.tensor([[2.0, 2.0]] * 5 + [[8.0, 3.0]] * 5)
    anchors = kmeans_anchors(shapes, k=3, seed=0)
    assert anchors.shape == (3, 2)
    assert {tuple(row) for row in anchors.tolist()} >= {(2.0, 2.0), (8.0, 3.0)}


def test_kmeans_anchors_refuse_more_clusters_than_shapes():
    with pytest.raises(ValueError, match="k-means needs"):
        kmeans_anchors(torch.ones(2, 2), k=3, seed=0)
