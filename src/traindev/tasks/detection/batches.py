"""Mini-batches of a detection split: canvases from the store, YOLO targets from the box table.

The trainer's interface (iterate -> (x float NCHW in [0, 1], y), `len`, `num_batches`,
`set_epoch`, `sampler`) with y the encoded target (N, S, S, B, 5 + C), so `Trainer` trains a
detector exactly as it trains a classifier. The order comes from the same `GlobalBatchSampler`
(seeded per epoch, sharded under torchrun). A split whose uint8 pixels fit `in_memory_max_mb`
(canvases: 64x64 bytes each) is held on the device and gathered per batch; a larger one (users'
photos) is read per batch from the memory-mapped store. Either way a batch is converted to
float on the device.

Without augmentation the targets are encoded once. With a `TargetAugmenter` each batch's boxes
move with its pixels (kornia, seeded per store row and epoch, so an image's augmentation does
not depend on its batch), are clipped to the canvas, dropped when less than `min_visibility` of
the moved box stays inside, and the batch's target is encoded from what is left.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from traindev.data.batches import GlobalBatchSampler, Shard, split_rows, to_model_input
from traindev.data.geometric_targets import TargetAugmenter
from traindev.data.store import ImageStore
from traindev.tasks.detection.box_table import targets_per_image
from traindev.tasks.detection.boxes import box_area
from traindev.tasks.detection.targets import BoxesAndClasses, YoloTargets

MIN_VISIBILITY = 0.3  # albumentations' usual min_visibility: a box mostly cut off is dropped


def store_targets(store: ImageStore, rows: np.ndarray, boxes: pd.DataFrame) -> list:
    """Each row's boxes (K, 4) float32 and class indices (K,) from the box table."""
    return targets_per_image(boxes, store.manifest["id"].iloc[rows], store.classes)


def padded_boxes(targets: Sequence[BoxesAndClasses]) -> tuple[Tensor, Tensor, Tensor]:
    """Boxes (N, K, 4), classes (N, K) and a validity mask (N, K), K the most objects of one
    image: the layout kornia moves boxes in."""
    most = max((len(classes) for _, classes in targets), default=0)
    boxes = torch.zeros(len(targets), most, 4)
    classes = torch.zeros(len(targets), most, dtype=torch.int64)
    valid = torch.zeros(len(targets), most, dtype=torch.bool)
    for n, (b, c) in enumerate(targets):
        boxes[n, : len(c)] = torch.as_tensor(b)
        classes[n, : len(c)] = torch.as_tensor(c)
        valid[n, : len(c)] = True
    return boxes, classes, valid


def visible_boxes(
    moved: Tensor, valid: Tensor, image_size: tuple[int, int], min_visibility: float
) -> Tensor:
    """The moved boxes clipped to the image (in place) and which of them to keep: real objects
    at least one pixel wide and high whose clipped area is >= `min_visibility` of the moved."""
    height, width = image_size
    whole = box_area(moved)
    moved[..., 0::2] = moved[..., 0::2].clamp(0, width)
    moved[..., 1::2] = moved[..., 1::2].clamp(0, height)
    sizes = moved[..., 2:] - moved[..., :2]
    big_enough = (sizes >= 1).all(dim=-1)
    return valid & big_enough & (box_area(moved) >= min_visibility * whole.clamp(min=1e-6))


class DetectionBatches:
    """One split's canvases and YOLO targets, batched for `Trainer` (module docstring)."""

    def __init__(
        self,
        store: ImageStore,
        rows: np.ndarray,
        boxes: pd.DataFrame,
        targets: YoloTargets,
        batch_size: int,
        device: torch.device,
        shuffle: bool = False,
        seed: int = 0,
        shard: Shard | None = None,
        augment: TargetAugmenter | None = None,
        min_visibility: float = MIN_VISIBILITY,
        in_memory_max_mb: float = 2000.0,
    ) -> None:
        self.rows = np.asarray(rows, dtype=np.int64)
        held = len(self.rows) * int(np.prod(store.pixels.shape[1:])) <= in_memory_max_mb * 1e6
        self.pixels: torch.Tensor | np.ndarray = (
            torch.from_numpy(np.ascontiguousarray(store.pixels[self.rows])).to(device)
            if held
            else store.pixels
        )
        self.pixel_max = store.pixel_max
        self.objects = store_targets(store, self.rows, boxes)
        self.encoding, self.device = targets, device
        self.batch_size = batch_size
        self.sampler = GlobalBatchSampler(
            len(self.rows), batch_size, shuffle, seed, shard or Shard()
        )
        self.augment, self.min_visibility = augment, min_visibility
        # Fixed targets are encoded once; augmented ones per batch, after the boxes moved.
        self.y = None if augment is not None else targets.encode_batch(self.objects, device)
        self.padded = padded_boxes(self.objects) if augment is not None else None

    @classmethod
    def of_split(
        cls, store: ImageStore, split: str, boxes: pd.DataFrame, targets: YoloTargets, **kwargs
    ) -> DetectionBatches:
        return cls(store, split_rows(store, split), boxes, targets, **kwargs)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def num_batches(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for positions in self.sampler:
            index = torch.from_numpy(np.ascontiguousarray(positions)).to(self.device)
            x = to_model_input(self._pixels(positions, index), self.pixel_max)
            if self.y is not None:
                yield x, self.y[index]
                continue
            yield self._augmented(x, positions)

    def _pixels(self, positions: np.ndarray, index: Tensor) -> Tensor:
        """The batch's uint8 pixels on the device: gathered there, or read from the store."""
        if torch.is_tensor(self.pixels):
            return self.pixels[index]
        batch = np.ascontiguousarray(self.pixels[self.rows[positions]])
        return torch.from_numpy(batch).to(self.device, non_blocking=self.device.type == "cuda")

    def _augmented(self, x: Tensor, positions: np.ndarray) -> tuple[Tensor, Tensor]:
        boxes, classes, valid = (part[positions] for part in self.padded)
        moved = self.augment(
            x, self.rows[positions], self.sampler.epoch, boxes=boxes.to(self.device)
        )
        keep = visible_boxes(
            moved.boxes, valid.to(self.device), self.encoding.image_size, self.min_visibility
        )
        per_image = [(moved.boxes[n][keep[n]], classes[n][keep[n].cpu()]) for n in range(len(x))]
        return moved.images, self.encoding.encode_batch(per_image, self.device)
