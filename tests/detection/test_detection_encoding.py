"""The YOLO target and its decoding, and the classification-with-localization vector."""

from __future__ import annotations

import pytest
import torch

from traindev.tasks.detection import encoding
from traindev.tasks.detection.anchors import kmeans_anchors
from traindev.tasks.detection.boxes import batched_nms, box_iou
from traindev.tasks.detection.encoding import (
    activate,
    anchors_from_boxes,
    assign,
    decode,
    decode_localization,
    encode,
    encode_localization,
    grid_boxes,
    raw_from_target,
)

PEDESTRIAN, CAR, MOTORCYCLE = 0, 1, 2
TALL_AND_WIDE = torch.tensor([[0.5, 1.5], [1.5, 0.5]])  # (width, height) in cells


def test_the_notes_example_three_classes_on_a_3x3_grid_give_a_3x3x8_target():
    # a 90 x 90 image, cells of 30 px; the car's midpoint (75, 45) lies in row 1, column 2
    target = encode(torch.tensor([[60.0, 35.0, 90.0, 55.0]]), torch.tensor([CAR]), 90, 3, None, 3)
    assert target.shape == (3, 3, 1, 8) and target.reshape(3, 3, -1).shape == (3, 3, 8)
    expected = torch.zeros(3, 3, 1, 8)
    # p_c, b_x = 75 / 30 - 2, b_y = 45 / 30 - 1, b_h = 20 / 30, b_w = 30 / 30, c = (0, 1, 0)
    expected[1, 2, 0] = torch.tensor([1.0, 0.5, 0.5, 2 / 3, 1.0, 0.0, 1.0, 0.0])
    torch.testing.assert_close(target, expected)


def test_with_two_anchors_the_target_is_3x3x16_and_each_object_takes_its_shape():
    # the notes' picture: a pedestrian and a car share the middle cell of a 3 x 3 grid
    boxes = torch.tensor([[40.0, 20.0, 50.0, 70.0], [25.0, 38.0, 65.0, 52.0]])
    target = encode(boxes, torch.tensor([PEDESTRIAN, CAR]), 90, 3, TALL_AND_WIDE, 3)
    assert target.shape == (3, 3, 2, 8) and target.reshape(3, 3, -1).shape == (3, 3, 16)
    occupied = torch.nonzero(target[..., 0]).tolist()
    assert occupied == [[1, 1, 0], [1, 1, 1]]  # the middle cell, anchor 1 then anchor 2
    # pedestrian: midpoint (45, 45), 10 wide and 50 tall -> b = (0.5, 0.5, 50/30, 10/30)
    torch.testing.assert_close(target[1, 1, 0], torch.tensor([1, 0.5, 0.5, 5 / 3, 1 / 3, 1, 0, 0]))
    # car: midpoint (45, 45), 40 wide and 14 tall -> b = (0.5, 0.5, 14/30, 40/30)
    torch.testing.assert_close(target[1, 1, 1], torch.tensor([1, 0.5, 0.5, 7 / 15, 4 / 3, 0, 1, 0]))


def test_an_object_goes_to_the_cell_of_its_midpoint_not_of_its_largest_overlap():
    # 64 x 64 with a 4 x 4 grid (16 px cells): the box covers mostly cell (0, 0) and (0, 1),
    # yet its midpoint (20, 14) is in row 0, column 1; b_x = 20 / 16 - 1, b_y = 14 / 16
    box = torch.tensor([[2.0, 2.0, 38.0, 26.0]])
    target = encode(box, torch.tensor([0]), 64, 4, None, 2)
    assert torch.nonzero(target[..., 0]).tolist() == [[0, 1, 0]]
    torch.testing.assert_close(target[0, 1, 0, 1:5], torch.tensor([0.25, 0.875, 1.5, 2.25]))


def test_a_rectangular_image_has_cells_of_its_own_height_and_width():
    # (height 60, width 120), 3 x 3 grid: cells 20 tall and 40 wide
    target = encode(
        torch.tensor([[90.0, 45.0, 110.0, 55.0]]), torch.tensor([1]), (60, 120), 3, None, 2
    )
    # midpoint (100, 50): column 2, row 2;
    # b_x = 100/40 - 2, b_y = 50/20 - 2, b_h = 10/20, b_w = 20/40
    torch.testing.assert_close(target[2, 2, 0], torch.tensor([1, 0.5, 0.5, 0.5, 0.5, 0, 1]))


def test_a_midpoint_on_the_far_edge_stays_in_the_last_cell():
    row, column, anchor = assign(torch.tensor([[50.0, 50.0, 90.0, 90.0]]), 60, 3)
    assert (row.item(), column.item(), anchor.item()) == (2, 2, 0)


def test_objects_competing_for_one_anchor_take_the_next_free_one_then_are_dropped():
    anchors = torch.tensor([[1.0, 1.0], [2.0, 2.0]])
    boxes = torch.tensor(
        [
            [20.0, 20.0, 30.0, 30.0],  # 1 x 1 cell, fits anchor 0 exactly
            [21.0, 21.0, 30.0, 30.0],  # fits anchor 0 less well: moves to anchor 1
            [22.0, 22.0, 28.0, 28.0],  # the cell is full: not placed
            [0.0, 0.0, 20.0, 20.0],  # another cell: anchor 1, its best shape
        ]
    )
    _, _, anchor = assign(boxes, 60, 6, anchors)
    assert anchor.tolist() == [0, 1, -1, 1]
    target = encode(boxes, torch.tensor([0, 1, 0, 1]), 60, 6, anchors, 2)
    assert target[..., 0].sum() == 3


def test_an_image_without_objects_encodes_to_zeros():
    target = encode(torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64), 64, 4, TALL_AND_WIDE, 3)
    assert target.shape == (4, 4, 2, 8) and not target.any()


def well_separated_objects(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One object in each of several cells of a 4 x 4 grid on 64 x 64, sizes around two anchors."""
    generator = torch.Generator().manual_seed(seed)
    cells = torch.randperm(16, generator=generator)[:5]
    centre = (
        torch.stack((cells % 4, cells // 4), dim=1)
        + 0.1
        + 0.8 * torch.rand(5, 2, generator=generator)
    ) * 16
    size = torch.where(
        torch.rand(5, 1, generator=generator) < 0.5,
        torch.tensor([[8.0, 24.0]]),
        torch.tensor([[24.0, 8.0]]),
    ) * (0.8 + 0.4 * torch.rand(5, 2, generator=generator))
    boxes = torch.cat((centre - size / 2, centre + size / 2), dim=1)
    return boxes, torch.randint(0, 3, (5,), generator=generator)


@pytest.mark.parametrize("seed", range(4))
def test_encode_then_decode_returns_the_boxes_and_classes(seed):
    boxes, classes = well_separated_objects(seed)
    iou = box_iou(boxes, boxes)
    assert (iou - torch.eye(5)).max() < 0.5  # so that NMS at 0.5 keeps them all
    target = encode(boxes, classes, 64, 4, TALL_AND_WIDE, 3)
    assert set(torch.nonzero(target[..., 0])[:, 2].tolist()) == {0, 1}  # both anchors in use
    raw = raw_from_target(target, TALL_AND_WIDE)[None]
    (detections,) = decode(raw, TALL_AND_WIDE, 64, score_threshold=0.6, iou_threshold=0.5)
    order = torch.argsort(detections.boxes[:, 0])
    expected = torch.argsort(boxes[:, 0])
    torch.testing.assert_close(detections.boxes[order], boxes[expected], atol=1e-4, rtol=0)
    assert detections.classes[order].tolist() == classes[expected].tolist()
    assert torch.all(detections.scores > 0.99)


def test_activate_inverts_raw_from_target_where_an_object_is():
    boxes, classes = well_separated_objects(0)
    target = encode(boxes, classes, 64, 4, TALL_AND_WIDE, 3)
    activated = activate(raw_from_target(target, TALL_AND_WIDE), TALL_AND_WIDE)
    present = target[..., 0] == 1
    torch.testing.assert_close(activated[present], target[present], atol=1e-6, rtol=1e-6)
    assert torch.all(activated[~present][:, 0] < 1e-8)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    row_major = torch.argsort((centre[:, 1] // 16) * 4 + centre[:, 0] // 16)
    torch.testing.assert_close(grid_boxes(target, 64)[present], boxes[row_major], atol=1e-4, rtol=0)


def test_decode_discards_p_c_at_the_threshold_and_suppresses_per_class():
    # a 2 x 2 grid on 64 x 64 with three anchors of one cell: t = 0 gives the box (0, 0, 32, 32)
    # in cell (0, 0) for every anchor, so its three candidates overlap at IoU 1
    anchors = torch.ones(3, 2)
    raw = torch.full((1, 2, 2, 3, 7), -20.0)
    for (row, column, anchor), logit, label in [
        ((0, 0, 0), 3.0, 0),
        ((0, 0, 1), 2.0, 0),  # the same class: suppressed by the first
        ((0, 0, 2), 1.0, 1),  # another class: kept, NMS runs per class
        ((1, 1, 0), 0.0, 1),  # p_c = sigmoid(0) = 0.5: discarded, p_c <= threshold
    ]:
        raw[0, row, column, anchor, :5] = torch.tensor([logit, 0.0, 0.0, 0.0, 0.0])
        raw[0, row, column, anchor, 5 + label] = 5.0
    (result,) = decode(raw, anchors, 64, score_threshold=0.5, iou_threshold=0.5)
    assert result.classes.tolist() == [0, 1]
    torch.testing.assert_close(result.scores, torch.sigmoid(torch.tensor([3.0, 1.0])))
    torch.testing.assert_close(result.boxes, torch.tensor([[0.0, 0.0, 32.0, 32.0]] * 2))


def test_decode_returns_one_entry_per_image_even_when_empty():
    raw = torch.full((3, 2, 2, 2, 6), -20.0)
    results = decode(raw, TALL_AND_WIDE, 64, 0.6, 0.5)
    assert len(results) == 3 and all(len(result.boxes) == 0 for result in results)
    assert results[0].boxes.shape == (0, 4) and results[0].classes.dtype == torch.int64


def test_localization_target_is_the_notes_vector_relative_to_the_image():
    # the notes' example: the midpoint halfway across and 70 % down,
    # the box 30 % of the image's height and 40 % of its width
    box = torch.tensor([[30.0, 55.0, 70.0, 85.0]])
    target = encode_localization(box, torch.tensor([CAR]), 100, 3)
    torch.testing.assert_close(target, torch.tensor([1.0, 0.5, 0.7, 0.3, 0.4, 0.0, 1.0, 0.0]))
    assert torch.equal(
        encode_localization(torch.zeros(0, 4), torch.zeros(0), 100, 3), torch.zeros(8)
    )
    with pytest.raises(ValueError, match="one object"):
        encode_localization(torch.cat((box, box)), torch.tensor([0, 1]), 100, 3)


def test_localization_decode_returns_the_encoded_box_or_nothing():
    box = torch.tensor([[10.0, 20.0, 50.0, 30.0]])
    target = encode_localization(box, torch.tensor([2]), (40, 80), 3)
    raw = target.clone()
    raw[0] = 4.0  # a p_c logit
    raw[5:] = torch.tensor([0.0, 1.0, 3.0])
    absent = raw.clone()
    absent[0] = -1.0
    found, empty = decode_localization(torch.stack((raw, absent)), (40, 80), 0.6)
    torch.testing.assert_close(found.boxes, box)
    assert found.classes.tolist() == [2] and found.scores.item() == pytest.approx(
        torch.sigmoid(torch.tensor(4.0)).item()
    )
    assert empty.boxes.shape == (0, 4)


@pytest.mark.parametrize("chunk", [7, 256])
def test_decode_of_a_batch_equals_thresholding_and_nms_image_by_image(monkeypatch, chunk):
    monkeypatch.setattr(encoding, "NMS_CHUNK", chunk)
    generator = torch.Generator().manual_seed(1)
    raw = torch.randn(12, 4, 4, 2, 6, generator=generator)
    raw[3, ..., 0] = -5.0  # an image without candidates between others
    results = decode(raw, TALL_AND_WIDE, 64, score_threshold=0.6, iou_threshold=0.5)
    activated = activate(raw, TALL_AND_WIDE)
    boxes = grid_boxes(activated, 64).flatten(1, 3)
    vectors = activated.flatten(1, 3)
    assert len(results) == 12 and len(results[3].boxes) == 0
    candidates = int((vectors[..., 0] > 0.6).sum())
    assert candidates > 3 * 7  # with a chunk of 7, the batch is suppressed in several chunks
    for image, result in enumerate(results):
        keep = vectors[image, :, 0] > 0.6
        image_boxes, scores = boxes[image][keep], vectors[image, keep, 0]
        classes = vectors[image, keep, 5:].argmax(dim=1)
        order = batched_nms(image_boxes, scores, classes, 0.5)
        torch.testing.assert_close(result.boxes, image_boxes[order])
        torch.testing.assert_close(result.scores, scores[order])
        assert torch.equal(result.classes, classes[order])
    assert sum(len(result.boxes) for result in results) < candidates  # NMS removed some


def test_anchors_from_training_boxes_are_k_means_shapes_in_cell_units():
    # tall 8 x 24 px and wide 24 x 8 px boxes on 64 x 64 with a 4 x 4 grid (16 px cells)
    generator = torch.Generator().manual_seed(0)
    size = torch.tensor([[8.0, 24.0], [24.0, 8.0]]).repeat(50, 1)
    size = size * (0.9 + 0.2 * torch.rand(100, 2, generator=generator))
    corner = torch.rand(100, 2, generator=generator) * 30
    boxes = torch.cat((corner, corner + size), dim=1)
    anchors = anchors_from_boxes(boxes, 64, 4, count=2, seed=0)
    assert anchors.dtype == torch.float32
    in_pixels = kmeans_anchors(size.double(), 2, seed=0).float() / 16
    torch.testing.assert_close(anchors, in_pixels)
    by_width = anchors[torch.argsort(anchors[:, 0])]
    torch.testing.assert_close(by_width, torch.tensor([[0.5, 1.5], [1.5, 0.5]]), atol=0.05, rtol=0)


def test_decode_reads_a_half_precision_head_in_float32():
    generator = torch.Generator().manual_seed(2)
    raw = torch.randn(4, 4, 4, 2, 6, generator=generator).to(torch.bfloat16)
    found = decode(raw, TALL_AND_WIDE, 640, 0.6, 0.5)
    expected = decode(raw.float(), TALL_AND_WIDE, 640, 0.6, 0.5)
    assert sum(len(result.boxes) for result in found) > 0
    for result, reference in zip(found, expected, strict=True):
        assert result.boxes.dtype == torch.float32 and result.scores.dtype == torch.float32
        torch.testing.assert_close(result.boxes, reference.boxes, rtol=0, atol=1e-4)
    (single,) = decode_localization(raw[:1, 0, 0, 0], 640, 0.0)
    assert single.boxes.dtype == torch.float32
