"""The window classifier's training crops: objects closely cropped, background clear of them."""

from __future__ import annotations

import torch

from traindev.tasks.detection.boxes import box_iou
from traindev.tasks.detection.models.window_crops import (
    background_squares,
    square_crops,
    training_crops,
)


def test_a_square_of_crop_size_on_the_pixel_grid_is_copied_exactly() -> None:
    image = torch.rand(2, 40, 50)
    crops = square_crops(image, torch.tensor([[17.0, 21.0, 14.0]]), crop_size=14)
    torch.testing.assert_close(crops[0], image[:, 14:28, 10:24])


def test_a_crop_beyond_the_image_reads_zeros() -> None:
    image = torch.ones(1, 20, 20)
    crop = square_crops(image, torch.tensor([[0.0, 10.0, 10.0]]), crop_size=10)[0, 0]
    torch.testing.assert_close(crop[:, :5], torch.zeros(10, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(crop[:, 5:], torch.ones(10, 5))


def test_background_windows_stay_in_the_image_and_clear_of_every_object() -> None:
    boxes = torch.tensor([[10.0, 10.0, 30.0, 30.0], [40.0, 5.0, 60.0, 25.0]])
    squares = background_squares(boxes, (64, 64), [16, 24], 20, torch.Generator().manual_seed(0))
    half = squares[:, 2:] / 2
    windows = torch.cat([squares[:, :2] - half, squares[:, :2] + half], dim=1)
    assert len(squares) == 20
    assert {round(side) for side in squares[:, 2].tolist()} <= {16, 24}
    assert windows.min() >= -1e-4 and windows.max() <= 64 + 1e-4
    assert (box_iou(windows, boxes) < 0.1).all()


def test_each_object_gives_one_crop_of_its_class_then_background_is_the_last_class() -> None:
    image = torch.zeros(1, 64, 64)
    image[0, 10:30, 14:26] = 1.0  # a digit 12 wide, 20 tall
    boxes, classes = torch.tensor([[14.0, 10.0, 26.0, 30.0]]), torch.tensor([3])
    crops, labels = training_crops(
        image,
        boxes,
        classes,
        num_classes=10,
        crop_size=14,
        window_sizes=[16],
        backgrounds=4,
        generator=torch.Generator().manual_seed(0),
    )
    assert labels.tolist() == [3, 10, 10, 10, 10]
    assert crops.shape == (5, 1, 14, 14)
    # closely cropped: the square of side 20 centred on the box keeps the whole digit, its full
    # height, and the sides (4 of 20 pixels each) stay empty
    assert crops[0, 0, 7, 7] == 1.0 and crops[0, 0, :, 0].max() == 0.0
