"""Box IoU against pycocotools, NMS against a brute-force reference, and the conversions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask

from traindev.tasks.detection.boxes import (
    Detections,
    batched_nms,
    box_area,
    box_iou,
    cxcywh_to_xyxy,
    nms,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)


def random_boxes(generator: torch.Generator, count: int, extent: float = 50.0) -> torch.Tensor:
    """Random xyxy boxes on a small canvas, so that many of them overlap."""
    corner = torch.rand(count, 2, generator=generator, dtype=torch.float64) * extent
    size = torch.rand(count, 2, generator=generator, dtype=torch.float64) * extent / 2
    return torch.cat((corner, corner + size), dim=1)


def coco_iou(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """pycocotools' box IoU (it takes xywh boxes), the reference the tests trust."""
    xywh_a = xyxy_to_xywh(a).numpy().astype(np.float64)
    xywh_b = xyxy_to_xywh(b).numpy().astype(np.float64)
    return np.asarray(coco_mask.iou(xywh_a, xywh_b, [0] * len(b)))


SPECIAL_BOXES = torch.tensor(
    [
        [0.0, 0.0, 10.0, 10.0],
        [10.0, 0.0, 20.0, 10.0],  # touches the first along an edge
        [10.0, 10.0, 15.0, 15.0],  # touches the first at a corner
        [2.0, 2.0, 5.0, 5.0],  # nested inside the first
        [0.0, 0.0, 10.0, 10.0],  # identical to the first
        [30.0, 30.0, 40.0, 45.0],  # disjoint from all the others
        [3.0, 3.0, 3.0, 8.0],  # degenerate: zero width, inside the first
        [4.0, 4.0, 4.0, 4.0],  # degenerate: a point
        [5.0, 5.0, 25.0, 6.0],  # thin, crossing the first
    ],
    dtype=torch.float64,
)


def test_box_iou_equals_pycocotools_on_touching_nested_disjoint_and_degenerate_boxes():
    iou = box_iou(SPECIAL_BOXES, SPECIAL_BOXES)
    assert iou.shape == (9, 9)
    np.testing.assert_allclose(iou.numpy(), coco_iou(SPECIAL_BOXES, SPECIAL_BOXES), atol=1e-12)
    assert iou[0, 1] == 0 and iou[0, 2] == 0  # touching shares no area
    assert iou[0, 3] == pytest.approx(9 / 100)  # nested: the inner area over the outer
    assert iou[0, 4] == 1
    assert iou[6, 6] == 0 and iou[7, 7] == 0  # an empty union gives 0, never NaN
    assert not torch.isnan(iou).any()


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_box_iou_equals_pycocotools_on_random_boxes(seed, dtype, tolerance):
    generator = torch.Generator().manual_seed(seed)
    a, b = random_boxes(generator, 40).to(dtype), random_boxes(generator, 30).to(dtype)
    iou = box_iou(a, b)
    assert iou.shape == (40, 30) and iou.dtype == dtype
    np.testing.assert_allclose(iou.numpy(), coco_iou(a, b), atol=tolerance)
    assert (iou > 0).any() and (iou == 0).any()  # the cases hold both overlaps and disjoint pairs


def test_box_iou_of_empty_sets_has_the_empty_shape():
    assert box_iou(torch.zeros(0, 4), SPECIAL_BOXES.float()).shape == (0, 9)
    assert box_iou(SPECIAL_BOXES, torch.zeros(0, 4, dtype=torch.float64)).shape == (9, 0)


def test_box_area_counts_degenerate_boxes_as_empty():
    areas = box_area(torch.tensor([[0.0, 0.0, 4.0, 3.0], [5.0, 5.0, 2.0, 9.0]]))
    assert areas.tolist() == [12.0, 0.0]


def clustered_boxes(generator: torch.Generator, count: int) -> torch.Tensor:
    """Boxes jittered around a few objects, as a detector's raw candidates are."""
    objects = random_boxes(generator, count // 4).repeat_interleave(4, dim=0)
    return objects + torch.randn(objects.shape, generator=generator, dtype=torch.float64) * 1.5


def brute_force_nms(
    boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, threshold: float
) -> list[int]:
    """The notes' loop written out pair by pair: pick the best remaining box, drop its overlaps."""
    remaining = sorted(range(len(boxes)), key=lambda i: (-float(scores[i]), i))
    kept = []
    while remaining:
        best = remaining.pop(0)
        kept.append(best)
        survivors = []
        for other in remaining:
            same_class = int(classes[other]) == int(classes[best])
            overlap = float(coco_iou(boxes[best : best + 1], boxes[other : other + 1])[0, 0])
            if not (same_class and overlap >= threshold):
                survivors.append(other)
        remaining = survivors
    return kept


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_keeps_what_the_brute_force_loop_keeps(seed, threshold):
    generator = torch.Generator().manual_seed(seed)
    boxes = clustered_boxes(generator, 60)
    scores = torch.rand(60, generator=generator, dtype=torch.float64)
    kept = nms(boxes, scores, threshold)
    expected = brute_force_nms(boxes, scores, torch.zeros(60, dtype=torch.int64), threshold)
    assert kept.tolist() == expected
    assert 1 < len(expected) < 60  # suppression happened and did not remove everything
    assert kept.dtype == torch.int64


@pytest.mark.parametrize("seed", range(8))
def test_batched_nms_keeps_what_the_brute_force_loop_keeps_class_by_class(seed):
    generator = torch.Generator().manual_seed(seed)
    boxes = clustered_boxes(generator, 60)
    scores = torch.rand(60, generator=generator, dtype=torch.float64)
    classes = torch.randint(0, 3, (60,), generator=generator)
    kept = batched_nms(boxes, scores, classes, 0.5)
    assert kept.tolist() == brute_force_nms(boxes, scores, classes, 0.5)
    for label in range(3):  # the same as running nms on each class alone
        members = torch.nonzero(classes == label).squeeze(1)
        alone = members[nms(boxes[members], scores[members], 0.5)]
        assert set(kept[classes[kept] == label].tolist()) == set(alone.tolist())


def test_batched_nms_never_suppresses_across_classes():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [0]
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 1]), 0.5).tolist() == [0, 1]


def test_nms_suppresses_at_exactly_the_threshold_as_the_notes_count_iou():
    # The second box lies inside the first: IoU = its area 5 / the union 10 = 0.5 exactly.
    boxes = torch.tensor([[0.0, 0.0, 10.0, 1.0], [5.0, 0.0, 10.0, 1.0]])
    scores = torch.tensor([0.6, 0.9])
    assert box_iou(boxes[:1], boxes[1:]).item() == 0.5
    assert nms(boxes, scores, 0.5).tolist() == [1]
    assert nms(boxes, scores, 0.51).tolist() == [1, 0]


def test_nms_breaks_score_ties_by_input_order_and_handles_no_boxes():
    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [5.0, 5.0, 6.0, 6.0], [0.0, 0.0, 1.0, 1.0]])
    assert nms(boxes, torch.tensor([0.5, 0.5, 0.5]), 0.5).tolist() == [0, 1]
    empty = nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
    assert empty.shape == (0,) and empty.dtype == torch.int64
    none = batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5)
    assert none.shape == (0,)


def test_conversions_round_trip_and_agree_with_each_other():
    boxes = random_boxes(torch.Generator().manual_seed(0), 20)
    centre = xyxy_to_cxcywh(boxes)
    torch.testing.assert_close(cxcywh_to_xyxy(centre), boxes)
    torch.testing.assert_close(xywh_to_xyxy(xyxy_to_xywh(boxes)), boxes)
    torch.testing.assert_close(centre[:, 2:], xyxy_to_xywh(boxes)[:, 2:])
    assert xyxy_to_cxcywh(torch.tensor([2.0, 4.0, 6.0, 10.0])).tolist() == [4.0, 7.0, 4.0, 6.0]


def test_empty_detections_have_the_shapes_of_real_ones():
    empty = Detections.empty()
    assert empty.boxes.shape == (0, 4) and empty.scores.shape == (0,)
    assert empty.classes.dtype == torch.int64
