"""The sliding-window classifier's training set: closely cropped objects and background windows.

The notes train the window classifier on crops "closely cropped" around each object, plus crops
with no object for the background class. An object's crop is the square of side max(w, h)
centred on its box (the digit keeps its aspect; beyond the image is zero padding); a background
crop is a random square window of one of the scanned sizes whose IoU with every object is below
TIDE's background threshold (0.1), so partly covered windows are not taught as background.
Both are resampled to crop_size x crop_size bilinearly in one `grid_sample` call.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from traindev.tasks.detection.boxes import box_iou

BACKGROUND_MAX_IOU = 0.1  # TIDE's t_b: below it a window is background
CANDIDATES_PER_BACKGROUND = 8


def square_crops(image: Tensor, squares: Tensor, crop_size: int) -> Tensor:
    """Resample square regions (K, 3) = (centre x, centre y, side) in pixels of one (C, H, W)
    image to (K, C, crop_size, crop_size); outside the image reads as zero."""
    channels, height, width = image.shape
    theta = torch.zeros(len(squares), 2, 3, dtype=image.dtype, device=image.device)
    theta[:, 0, 0] = squares[:, 2] / width
    theta[:, 1, 1] = squares[:, 2] / height
    theta[:, 0, 2] = 2 * squares[:, 0] / width - 1
    theta[:, 1, 2] = 2 * squares[:, 1] / height - 1
    grid = F.affine_grid(theta, [len(squares), channels, crop_size, crop_size], align_corners=False)
    batch = image.unsqueeze(0).expand(len(squares), -1, -1, -1)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def background_squares(
    boxes: Tensor,
    size: tuple[int, int],
    window_sizes: list[int],
    count: int,
    generator: torch.Generator,
) -> Tensor:
    """Up to `count` random windows (centre x, centre y, side) inside the image that overlap
    no object (IoU < 0.1); fewer when the image is crowded."""
    height, width = size
    tries = count * CANDIDATES_PER_BACKGROUND
    sides = torch.tensor(window_sizes, dtype=torch.float32)[
        torch.randint(len(window_sizes), (tries,), generator=generator)
    ].clamp(max=min(height, width))
    x0 = torch.rand(tries, generator=generator) * (width - sides)
    y0 = torch.rand(tries, generator=generator) * (height - sides)
    windows = torch.stack([x0, y0, x0 + sides, y0 + sides], dim=1)
    if len(boxes):
        free = box_iou(windows, boxes.float().cpu()).amax(dim=1) < BACKGROUND_MAX_IOU
        windows = windows[free]
    windows = windows[:count]
    return torch.stack(
        [
            (windows[:, 0] + windows[:, 2]) / 2,
            (windows[:, 1] + windows[:, 3]) / 2,
            windows[:, 2] - windows[:, 0],
        ],
        dim=1,
    )


def training_crops(
    image: Tensor,
    boxes: Tensor,
    classes: Tensor,
    *,
    num_classes: int,
    crop_size: int,
    window_sizes: list[int],
    backgrounds: int,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    """(crops (M, C, crop_size, crop_size), labels (M,)) from one image: one crop per object
    labelled with its class, then up to `backgrounds` background crops labelled `num_classes`."""
    boxes = boxes.float().reshape(-1, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    side = (boxes[:, 2:] - boxes[:, :2]).amax(dim=1, keepdim=True)
    objects = torch.cat([centre, side], dim=1)
    background = background_squares(
        boxes, tuple(image.shape[1:]), window_sizes, backgrounds, generator
    ).to(objects)
    labels = torch.cat(
        [classes.long().reshape(-1), torch.full((len(background),), num_classes)]
    ).to(image.device)
    return square_crops(image, torch.cat([objects, background]), crop_size), labels
