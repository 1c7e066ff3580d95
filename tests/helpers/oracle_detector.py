"""A detector that answers from a box table: known detections for scoring and analysis tests.

It recognises each stored image by its pixels and returns the raw YOLO output a perfect model
would give for the objects the table lists for it (encoding.raw_from_target), so decoding it
gives those boxes back; leave an object out of the table to make the detector miss it.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor, nn

from traindev.data.batches import to_model_input
from traindev.data.store import ImageStore
from traindev.tasks.detection.batches import store_targets
from traindev.tasks.detection.encoding import raw_from_target
from traindev.tasks.detection.targets import YoloTargets


class OracleDetector(nn.Module):
    """Raw outputs looked up by image content, encoded with `targets`."""

    def __init__(self, store: ImageStore, answers: pd.DataFrame, targets: YoloTargets) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))  # a device for predict.py to read
        rows = range(len(store.manifest))
        encoded = targets.encode_batch(store_targets(store, rows, answers), torch.device("cpu"))
        raw = raw_from_target(encoded, targets.anchors)
        pixels = to_model_input(torch.from_numpy(store.pixels[:]), store.pixel_max)
        self.answers = {self._key(image): raw[i] for i, image in enumerate(pixels)}

    @staticmethod
    def _key(image: Tensor) -> bytes:
        return image.float().contiguous().numpy().tobytes()

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([self.answers[self._key(image.cpu())] for image in x]).to(x.device)
