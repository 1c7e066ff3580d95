"""Boxes and masks moved with their image, by kornia.augmentation, seeded per store row.

Why: the detection and segmentation tasks need augmentation that moves a box table and a mask
store with the pixels. That comes from a maintained library, not from `batch_augmentation.py`
(frozen: docs/augmentation-backend.md). kornia draws on the training device and moves masks
(nearest interpolation) and boxes with the same parameters as the image.

Per-row reproducibility, as everywhere in traindev: each image's parameters are drawn by kornia's
own samplers from a torch seed made of (seed, epoch, store row) alone, then the whole batch is
warped in one call through `params=`. An image's augmentation therefore does not depend on the
batch it is in, its position, the chunking, the worker count or the world size. Drawing costs
one small sampler call per image (parameters only, not pixels): see the `kornia_rows` figures
in docs/augmentation-backend.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


def row_seed(seed: int, epoch: int, row: int) -> int:
    """The torch seed of one image's draws: the same (seed, epoch, row) stream the
    albumentations `Augmenter` uses."""
    return int(np.random.default_rng([seed % 2**63, epoch, int(row)]).integers(2**63))


def per_row_params(
    sequential: nn.Module,
    shape: Sequence[int],
    rows: np.ndarray | torch.Tensor,
    epoch: int,
    seed: int,
    device: torch.device | None = None,
) -> list:
    """kornia `params=` for a batch of `shape` (N, C, H, W): each row's parameters drawn by the
    sequential's own samplers under that row's seed (on the host), concatenated along the
    batch, on `device` (the batch's; default the host).

    The global torch generator is left as it was. Flat sequentials only (no nested
    containers), which is every sequential `TargetAugmenter` builds.
    """
    from kornia.augmentation.container.params import ParamItem

    rows = rows.tolist() if torch.is_tensor(rows) else np.asarray(rows).tolist()
    one = (1, *(int(d) for d in shape[1:]))
    with torch.random.fork_rng(devices=[]):
        drawn = []
        for row in rows:
            torch.manual_seed(row_seed(seed, epoch, row))
            drawn.append(sequential.forward_parameters(one))
    items = []
    for position, first in enumerate(drawn[0]):
        if not isinstance(first.data, dict):
            raise TypeError(f"{first.name}: nested augmentation containers are not supported")
        data = {
            key: torch.cat([params[position].data[key] for params in drawn])
            for key in first.data
            if key != "forward_input_shape"
        }
        data["forward_input_shape"] = torch.tensor([int(d) for d in shape])
        moved = {key: value.to(device or torch.device("cpu")) for key, value in data.items()}
        items.append(ParamItem(first.name, moved))
    return items


@dataclass(frozen=True)
class AugmentedTargets:
    """An augmented batch: float images (N, C, H, W), and the targets that came with them."""

    images: torch.Tensor
    masks: torch.Tensor | None = None  # (N, 1, H, W), the input's dtype (class ids)
    boxes: torch.Tensor | None = None  # (N, K, 4) x_min, y_min, x_max, y_max in pixels


class TargetAugmenter:
    """kornia augmentations applied to images and, with the same parameters, masks and boxes.

    `augmentations`: kornia.augmentation modules (e.g. RandomAffine, RandomResizedCrop,
    RandomHorizontalFlip where a mirror keeps the class); intensity ones touch the image only.
    The samplers stay on the host, where the per-row seeds act (never `.to(cuda)` it); the
    pixels, masks and boxes are warped on the batch's own device.
    """

    def __init__(self, augmentations: Sequence[nn.Module], seed: int) -> None:
        import kornia.augmentation as K

        self.seed = int(seed)
        self.sequential = K.AugmentationSequential(*augmentations, data_keys=["input"])

    def __call__(
        self,
        images: torch.Tensor,
        rows: np.ndarray | torch.Tensor,
        epoch: int,
        masks: torch.Tensor | None = None,
        boxes: torch.Tensor | None = None,
    ) -> AugmentedTargets:
        """Images of store `rows` (float in [0, 1]) with their masks and boxes, augmented."""
        if len(images) != len(rows):
            raise ValueError(f"{len(images)} images but {len(rows)} rows")
        if len(images) == 0:
            return AugmentedTargets(images, masks, boxes)
        params = per_row_params(
            self.sequential, images.shape, rows, epoch, self.seed, images.device
        )
        inputs: list[torch.Tensor] = [images]
        keys = ["input"]
        if masks is not None:  # nearest interpolation (kornia's default for masks): ids stay ids
            inputs.append(masks.to(images.dtype))
            keys.append("mask")
        if boxes is not None:
            inputs.append(boxes.to(images.dtype))
            keys.append("bbox_xyxy")
        out = self.sequential(*inputs, params=params, data_keys=keys)
        out = out if isinstance(out, list | tuple) else [out]
        moved = dict(zip(keys, out, strict=True))
        return AugmentedTargets(
            images=moved["input"],
            masks=None if masks is None else moved["mask"].round().to(masks.dtype),
            boxes=moved.get("bbox_xyxy"),
        )
