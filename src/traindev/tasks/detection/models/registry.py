"""Detector name -> its schema and builder, as traindev.models.registry is for classifiers.

The task seam looks a detector up here (`build_detector`); its params live under the same
`models.<name>` key as a classifier's, validated by `DETECTOR_PARAMS[name]`. Builders are
imported lazily, so validating params never imports torch. YOLO builders need the task's grid S
and anchor count B; the others take only the data's (C, H, W) and the class count.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from torch import nn

from traindev.tasks.detection.models.params import DETECTOR_PARAMS, DetectorParams

OUTPUTS = {
    "grid": "raw (N, S, S, B, 5 + C)",
    "localization": "raw (N, 5 + C): p_c, b_x, b_y, b_h, b_w, class logits",
    "windows": "(boxes (K, 4), logits (N, K, C + 1)), background last",
}


@dataclass(frozen=True)
class Detector:
    """One detector: `module:builder` under traindev.tasks.detection.models."""

    name: str
    module: str
    builder: str
    output: str  # a key of OUTPUTS: how the seam decodes what the network returns

    @property
    def uses_grid(self) -> bool:
        return self.output == "grid"

    @property
    def params_schema(self) -> type[DetectorParams]:
        return DETECTOR_PARAMS[self.name]


DETECTORS: dict[str, Detector] = {
    "yolov2": Detector("yolov2", "darknet", "build_yolov2", "grid"),
    "yolo": Detector("yolo", "yolo", "build_yolo", "grid"),
    "localization": Detector("localization", "localization", "build_localization", "localization"),
    "sliding_windows": Detector(
        "sliding_windows", "sliding_windows", "build_sliding_windows", "windows"
    ),
}

if DETECTORS.keys() != DETECTOR_PARAMS.keys():  # pragma: no cover - import-time guard
    raise RuntimeError(f"registry and params disagree: {sorted(DETECTORS)}")


def available_detectors() -> list[str]:
    return sorted(DETECTORS)


def get_detector(name: str) -> Detector:
    """Look a detector up; an unknown name is a config error, so list the valid ones."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise ValueError(
            f"unknown detector {name!r}; valid detectors: {', '.join(available_detectors())}"
        ) from None


def build_detector(
    name: str,
    params: DetectorParams | dict[str, Any],
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    grid: int | None = None,
    num_anchors: int | None = None,
) -> nn.Module:
    """Build detector `name` for float32 NCHW input at the data's (C, H, W)."""
    detector = get_detector(name)
    if isinstance(params, dict):
        params = detector.params_schema.model_validate(params)
    elif not isinstance(params, detector.params_schema):
        raise TypeError(f"{name} expects {detector.params_schema.__name__} params")
    if len(input_shape) != 3 or any(int(d) < 1 for d in input_shape):
        raise ValueError(f"input_shape must be a positive (C, H, W), got {input_shape}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    builder = getattr(
        importlib.import_module(f"traindev.tasks.detection.models.{detector.module}"),
        detector.builder,
    )
    shape = tuple(int(d) for d in input_shape)
    if not detector.uses_grid:
        return builder(params, shape, int(num_classes))
    if grid is None or num_anchors is None or grid < 1 or num_anchors < 1:
        raise ValueError(f"{name} needs a positive grid and num_anchors, got {grid}, {num_anchors}")
    return builder(params, shape, int(num_classes), grid=int(grid), num_anchors=int(num_anchors))
