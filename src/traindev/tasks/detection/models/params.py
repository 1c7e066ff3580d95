"""Hyperparameter schemas of the detectors, kept free of torch like traindev.models.params.

Grid S, anchors B and the class count are the detection task's (shared with encoding and
decoding), so they are builder arguments, not model params; these schemas hold only what
shapes a network. A detector built on a zoo backbone validates `backbone_params` against that
backbone's own schema, so a typo is reported when params.yaml is read, not when training starts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from traindev.models.params import ARCHITECTURE_PARAMS, ArchitectureParams

# Zoo architectures that keep a spatial feature map (the others flatten the image first).
CONVOLUTIONAL_ZOO = (
    "lenet5",
    "alexnet",
    "vgg16",
    "resnet18",
    "resnet34",
    "resnet50",
    "googlenet",
    "mobilenet_v1",
    "mobilenet_v2",
    *(f"efficientnet_b{i}" for i in range(8)),
)
LEAKY_SLOPE = "Negative slope of the leaky ReLU; darknet's is 0.1."


class DetectorParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Darknet19Params(DetectorParams):
    """Darknet-19 (Redmon & Farhadi 2017, table 6) without its 1000-way classifier."""

    leaky_slope: float = Field(0.1, ge=0.0, lt=1.0, description=LEAKY_SLOPE)


class DarknetSmallParams(DetectorParams):
    """Tiny-YOLO-style stack for CPU minutes: 3x3 conv + BN + leaky ReLU, a 2x2 max pool
    between consecutive widths, so the stride is 2^(len(filters) - 1)."""

    filters: list[int] = Field(
        default_factory=lambda: [16, 32, 64, 128],
        min_length=1,
        description="Output channels of each 3x3 convolution; a max pool halves H and W "
        "between two of them (8x8 features from a 64x64 canvas by default).",
    )
    leaky_slope: float = Field(0.1, ge=0.0, lt=1.0, description=LEAKY_SLOPE)

    @model_validator(mode="after")
    def _positive_filters(self) -> DarknetSmallParams:
        if any(f < 1 for f in self.filters):
            raise ValueError(f"filters must be positive, got {self.filters}")
        return self


# Backbones that exist only as detection feature extractors (no classifier of their own).
DETECTION_BACKBONE_PARAMS: dict[str, type[DetectorParams]] = {
    "darknet19": Darknet19Params,
    "darknet_small": DarknetSmallParams,
}
BACKBONES = (*DETECTION_BACKBONE_PARAMS, *CONVOLUTIONAL_ZOO)


def backbone_schema(name: str) -> type[DetectorParams] | type[ArchitectureParams]:
    """The schema of a feature-extractor backbone: a detection backbone's or the zoo's."""
    if name in DETECTION_BACKBONE_PARAMS:
        return DETECTION_BACKBONE_PARAMS[name]
    if name in CONVOLUTIONAL_ZOO:
        return ARCHITECTURE_PARAMS[name]
    raise ValueError(f"unknown backbone {name!r}; valid backbones: {', '.join(BACKBONES)}")


def _validated(schema: type[BaseModel], params: dict[str, Any]) -> dict[str, Any]:
    return schema.model_validate(params).model_dump()


class YoloV2Params(DetectorParams):
    """YOLOv2 as darknet's yolov2.cfg builds it: Darknet-19, two 3x3x1024 convolutions, the
    passthrough (reorg) of the 2S x 2S x 512 map, a 3x3x1024 convolution, a 1x1 prediction."""

    leaky_slope: float = Field(0.1, ge=0.0, lt=1.0, description=LEAKY_SLOPE)
    passthrough: bool = Field(
        True,
        description="Concatenate the finer 2S x 2S features (1x1x64 conv, then space-to-depth) "
        "before the last convolution, as in the paper; false is the ablation.",
    )


class YoloParams(DetectorParams):
    """A YOLO head on any backbone: 3x3 conv + BN + leaky ReLU, then a 1x1 conv to
    B * (5 + C) channels per cell; a feature map finer than S x S is average-pooled to it."""

    backbone: str = Field(
        "darknet_small",
        description="Feature extractor: darknet_small, darknet19 or a convolutional zoo "
        "architecture (its own params in backbone_params).",
    )
    backbone_params: dict[str, Any] = Field(
        default_factory=dict, description="The backbone's hyperparameters (its own schema)."
    )
    head_channels: int = Field(
        128, ge=0, description="Width of the head's 3x3 convolution; 0: no hidden layer."
    )
    leaky_slope: float = Field(0.1, ge=0.0, lt=1.0, description=LEAKY_SLOPE)

    @model_validator(mode="after")
    def _backbone_params_fit_the_backbone(self) -> YoloParams:
        validated = _validated(backbone_schema(self.backbone), self.backbone_params)
        object.__setattr__(self, "backbone_params", validated)
        return self


class LocalizationParams(DetectorParams):
    """Classification with localization: a zoo architecture whose last layer outputs the
    notes' y = (p_c, b_x, b_y, b_h, b_w, c_1 .. c_C) instead of C class scores."""

    backbone: str = Field("lenet5", description="Any zoo architecture (traindev.models).")
    backbone_params: dict[str, Any] = Field(
        default_factory=dict, description="The backbone's hyperparameters (its own schema)."
    )

    @model_validator(mode="after")
    def _backbone_params_fit_the_backbone(self) -> LocalizationParams:
        if self.backbone not in ARCHITECTURE_PARAMS:
            known = ", ".join(sorted(ARCHITECTURE_PARAMS))
            raise ValueError(f"unknown backbone {self.backbone!r}; valid backbones: {known}")
        validated = _validated(ARCHITECTURE_PARAMS[self.backbone], self.backbone_params)
        object.__setattr__(self, "backbone_params", validated)
        return self


class SlidingWindowParams(DetectorParams):
    """The notes' sliding-window detector: a ConvNet classifier of closely cropped objects
    (C classes + background) scanned over the image, per window size.

    The classifier's layers are 'valid' k x k convolutions + ReLU, each followed by a 2x2
    max pool, then fully connected layers; so its own stride is 2^len(conv_filters), and the
    convolutional implementation scores exactly the windows the naive scan crops.
    """

    crop_size: int = Field(
        14, ge=2, description="Side of the classifier's input; the notes draw 14x14."
    )
    window_sizes: list[int] = Field(
        default_factory=lambda: [16, 24, 32],
        min_length=1,
        description="Window sides on the image, in pixels; each is resized to crop_size "
        "(the image is rescaled by crop_size / window before the scan).",
    )
    stride: int = Field(
        2,
        ge=1,
        description="Step between windows in classifier pixels (x window / crop_size on the "
        "image); a multiple of the classifier's own stride 2^len(conv_filters).",
    )
    conv_filters: list[int] = Field(
        default_factory=lambda: [16], description="Filters of each conv + max pool block."
    )
    kernel_size: int = Field(5, ge=1, description="Side of every convolution ('valid').")
    fc_sizes: list[int] = Field(
        default_factory=lambda: [400, 400],
        description="Hidden fully connected layers; the notes draw FC 400 -> FC 400.",
    )
    implementation: Literal["convolutional", "naive"] = Field(
        "convolutional",
        description="convolutional: the FC layers as convolutions, one pass per window size; "
        "naive: crop every window and classify it.",
    )

    @property
    def classifier_stride(self) -> int:
        return 2 ** len(self.conv_filters)

    def feature_side(self) -> int:
        """Side of the classifier's last feature map (the FC-as-conv kernel size)."""
        side = self.crop_size
        for _ in self.conv_filters:
            side = (side - self.kernel_size + 1) // 2
        return side

    @model_validator(mode="after")
    def _shapes_fit(self) -> SlidingWindowParams:
        if any(n < 1 for n in [*self.conv_filters, *self.fc_sizes, *self.window_sizes]):
            raise ValueError("conv_filters, fc_sizes and window_sizes must be positive")
        side = self.crop_size
        for _ in self.conv_filters:
            if side - self.kernel_size + 1 < 2:
                raise ValueError(
                    f"crop_size {self.crop_size} is too small for {len(self.conv_filters)} "
                    f"{self.kernel_size}x{self.kernel_size} conv + pool blocks"
                )
            side = (side - self.kernel_size + 1) // 2
        if self.stride % self.classifier_stride:
            raise ValueError(
                f"stride {self.stride} must be a multiple of the classifier's own stride "
                f"{self.classifier_stride} (2^len(conv_filters))"
            )
        return self


# name in params -> its schema; the builders live in registry.py.
DETECTOR_PARAMS: dict[str, type[DetectorParams]] = {
    "yolov2": YoloV2Params,
    "yolo": YoloParams,
    "localization": LocalizationParams,
    "sliding_windows": SlidingWindowParams,
}
