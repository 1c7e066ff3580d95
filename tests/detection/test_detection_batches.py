"""Detection batches for the trainer: targets encoded from the box table, boxes moved with the
pixels by augmentation, each image's augmentation fixed by its row and epoch alone."""

from __future__ import annotations

import kornia.augmentation as K
import numpy as np
import pytest
import torch
from helpers.rectangle_canvases import rectangle_canvases

from traindev.data.batches import Shard, split_rows
from traindev.data.geometric_targets import TargetAugmenter
from traindev.tasks.detection.batches import DetectionBatches, store_targets, visible_boxes
from traindev.tasks.detection.boxes import box_iou
from traindev.tasks.detection.encoding import encode
from traindev.tasks.detection.objective import target_objects
from traindev.tasks.detection.targets import YoloTargets

CPU = torch.device("cpu")
pytestmark = pytest.mark.usefixtures("one_torch_thread")
ANCHORS = [[1.0, 1.0], [2.0, 2.0]]


def encoding(store, boxes, anchors=ANCHORS) -> YoloTargets:
    rows = split_rows(store, "train")
    return YoloTargets.from_training_boxes(
        store_targets(store, rows, boxes), (32, 32), 4, 3, anchors, seed=0
    )


def test_plain_batches_hold_each_rows_encoded_box_table_targets():
    store, boxes = rectangle_canvases()
    targets = encoding(store, boxes)
    batches = DetectionBatches.of_split(store, "train", boxes, targets, batch_size=8, device=CPU)
    xs, ys = zip(*batches, strict=True)
    assert len(batches) == 24 and batches.num_batches == 3
    x, y = torch.cat(xs), torch.cat(ys)
    assert x.shape == (24, 1, 32, 32) and y.shape == (24, 4, 4, 2, 8)
    rows = split_rows(store, "train")
    for n, (b, c) in enumerate(store_targets(store, rows, boxes)):
        expected = encode(torch.as_tensor(b), torch.as_tensor(c), (32, 32), 4, targets.anchors, 3)
        assert torch.equal(y[n], expected)
    assert torch.equal(x, torch.from_numpy(store.pixels[rows]).permute(0, 3, 1, 2) / 255)


def test_a_split_too_large_for_memory_streams_the_same_batches_from_the_store():
    store, boxes = rectangle_canvases()
    targets = encoding(store, boxes)

    def epoch(limit_mb: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
        batches = DetectionBatches.of_split(
            store, "train", boxes, targets, batch_size=8, device=CPU, shuffle=True,
            in_memory_max_mb=limit_mb,
        )  # fmt: skip
        batches.set_epoch(2)
        return list(batches)

    streamed = epoch(0.0)
    assert all(
        torch.equal(a, c) and torch.equal(b, d)
        for (a, b), (c, d) in zip(epoch(100.0), streamed, strict=True)
    )
    assert len(streamed) == 3


def test_under_torchrun_the_shards_of_a_step_make_up_the_single_process_batch():
    store, boxes = rectangle_canvases()
    targets = encoding(store, boxes)

    def steps(shard: Shard) -> list[torch.Tensor]:
        batches = DetectionBatches.of_split(
            store, "train", boxes, targets, batch_size=8, device=CPU, shuffle=True, seed=7,
            shard=shard,
        )  # fmt: skip
        batches.set_epoch(3)
        return [y for _, y in batches]

    whole = steps(Shard(0, 1))
    halves = zip(steps(Shard(0, 2)), steps(Shard(1, 2)), strict=True)
    for single, (first, second) in zip(whole, halves, strict=True):
        assert torch.equal(single[0::2], first) and torch.equal(single[1::2], second)


def test_anchor_shapes_come_from_kmeans_on_the_training_boxes_when_only_counted():
    store, boxes = rectangle_canvases()
    anchors = encoding(store, boxes, anchors=3).anchors
    assert anchors.shape == (3, 2) and (anchors > 0).all()
    prod = anchors.prod(dim=1)
    assert torch.equal(prod, prod.sort().values)  # k-means returns them by area


def bright_extent(image: torch.Tensor) -> torch.Tensor:
    ys, xs = torch.nonzero(image[0] >= image.max() / 2, as_tuple=True)  # half-ink edges
    return torch.tensor([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], dtype=torch.float32)


def test_augmentation_moves_the_boxes_with_the_pixels():
    store, boxes = rectangle_canvases(n=16, objects=1)
    targets = encoding(store, boxes)
    shift = TargetAugmenter([K.RandomAffine(degrees=0, translate=(0.2, 0.2), p=1.0)], seed=3)
    batches = DetectionBatches.of_split(
        store, "train", boxes, targets, batch_size=4, device=CPU, augment=shift, min_visibility=0
    )
    moved = 0
    for x, y in batches:
        for image, truth in zip(x, target_objects(y, (32, 32)), strict=True):
            if len(truth.boxes) == 0:  # pushed off the canvas
                continue
            assert box_iou(truth.boxes, bright_extent(image)).item() > 0.8
            moved += 1
    assert moved >= 8


def test_an_images_augmentation_depends_on_its_row_and_epoch_not_its_batch():
    store, boxes = rectangle_canvases(n=16)
    targets = encoding(store, boxes)

    def epoch_targets(batch_size: int, epoch: int) -> dict[int, torch.Tensor]:
        shift = TargetAugmenter([K.RandomAffine(degrees=10, translate=(0.2, 0.2))], seed=3)
        batches = DetectionBatches.of_split(
            store,
            "train",
            boxes,
            targets,
            batch_size=batch_size,
            device=CPU,
            shuffle=True,
            augment=shift,
        )
        batches.set_epoch(epoch)
        order = np.concatenate(list(batches.sampler))
        y = torch.cat([part for _, part in batches])
        return {int(p): y[n] for n, p in enumerate(order)}

    one, other = epoch_targets(4, epoch=1), epoch_targets(6, epoch=1)
    assert all(torch.equal(one[p], other[p]) for p in one)
    later = epoch_targets(4, epoch=2)
    assert any(not torch.equal(one[p], later[p]) for p in one)


def test_a_box_mostly_pushed_off_the_canvas_is_dropped_and_the_rest_clipped():
    moved = torch.tensor([[[-20.0, 0, 10, 10], [-2, 0, 10, 10], [5, 5, 5.5, 9], [0, 0, 4, 4]]])
    valid = torch.tensor([[True, True, True, False]])
    keep = visible_boxes(moved, valid, (32, 32), min_visibility=0.5)
    assert keep.tolist() == [[False, True, False, False]]
    assert moved[0, 1].tolist() == [0.0, 0.0, 10.0, 10.0]
