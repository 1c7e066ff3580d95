"""Boxes and masks move with their image through kornia, seeded per (seed, epoch, row)."""

from __future__ import annotations

import kornia.augmentation as K
import numpy as np
import torch

from traindev.data.geometric_targets import TargetAugmenter

SIDE = 32


def squares(count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images each holding one bright square, its mask (class id 3) and its xyxy box."""
    images = torch.zeros(count, 1, SIDE, SIDE)
    masks = torch.zeros(count, 1, SIDE, SIDE, dtype=torch.uint8)
    boxes = torch.zeros(count, 1, 4)
    for i in range(count):
        x0, y0, size = 6 + i % 5, 8 + i % 4, 10 + i % 3
        images[i, :, y0 : y0 + size, x0 : x0 + size] = 1.0
        masks[i, :, y0 : y0 + size, x0 : x0 + size] = 3
        boxes[i, 0] = torch.tensor([x0, y0, x0 + size - 1, y0 + size - 1], dtype=torch.float32)
    return images, masks, boxes


def geometric(seed: int = 0) -> TargetAugmenter:
    return TargetAugmenter(
        [
            K.RandomAffine(degrees=0, translate=(0.15, 0.15), scale=(0.8, 1.2), p=1.0),
            K.RandomHorizontalFlip(p=0.5),
            K.RandomBrightness((0.9, 1.1), p=1.0),
        ],
        seed,
    )


def test_masks_and_boxes_follow_the_image():
    images, masks, boxes = squares(8)
    out = geometric()(images, np.arange(8), epoch=1, masks=masks, boxes=boxes)
    assert out.masks.dtype == torch.uint8 and set(out.masks.unique().tolist()) <= {0, 3}
    assert not torch.equal(out.masks, masks)
    for i in range(8):
        ys, xs = torch.nonzero(out.masks[i, 0] == 3, as_tuple=True)
        mask_box = torch.stack([xs.min(), ys.min(), xs.max(), ys.max()]).float()
        torch.testing.assert_close(out.boxes[i, 0], mask_box, rtol=0, atol=1.5)
        bright = out.images[i, 0] > 0.5  # the brightness shift leaves the square bright
        assert (bright == (out.masks[i, 0] == 3)).float().mean() > 0.97


def test_each_row_is_augmented_alone_whatever_the_batch():
    images, masks, boxes = squares(6)
    rows = np.array([11, 3, 7, 20, 5, 9])
    augment = geometric(seed=4)
    whole = augment(images, rows, epoch=2, masks=masks, boxes=boxes)
    halves = [
        augment(images[s], rows[s], epoch=2, masks=masks[s], boxes=boxes[s])
        for s in (slice(0, 2), slice(2, 6))
    ]
    torch.testing.assert_close(torch.cat([h.images for h in halves]), whole.images)
    torch.testing.assert_close(torch.cat([h.boxes for h in halves]), whole.boxes)
    assert torch.equal(torch.cat([h.masks for h in halves]), whole.masks)
    again = geometric(seed=4)(images, rows, epoch=2)
    torch.testing.assert_close(again.images, whole.images)
    other_epoch = augment(images, rows, epoch=3, boxes=boxes)
    assert not torch.allclose(other_epoch.boxes, whole.boxes)


def test_the_global_torch_generator_is_left_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    geometric()(*squares(2)[:1], np.arange(2), epoch=1)
    torch.testing.assert_close(torch.rand(3), expected)


def test_an_empty_batch_comes_back_as_it_was():
    images, masks, boxes = (t[:0] for t in squares(1))
    out = geometric()(images, np.arange(0), epoch=1, masks=masks, boxes=boxes)
    assert out.images.shape == images.shape and out.boxes.shape == boxes.shape
