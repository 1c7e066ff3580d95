"""Segmentation's params: each default and description once, torch-free so config can import it.

Until the task seam wires segmentation into `traindev.config.Params`, these models stand alone;
the seam adds them as a `segmentation:` section (`SegmentationParams`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UNetParams(_Section):
    """U-Net (Ronneberger et al. 2015): a contracting path of two 3x3 convolutions and a 2x2 max
    pooling per level, an expanding path that upsamples, concatenates the skip connection and
    convolves twice, and a final 1x1 convolution to one logit per class."""

    depth: int = Field(
        3, ge=1, le=6, description="Poolings on the contracting path (the paper: 4)."
    )
    base_width: int = Field(
        16, ge=1, description="Channels of the first level, doubled at each level (paper: 64)."
    )
    padding: Literal["valid", "same"] = Field(
        "same",
        description="valid: unpadded 3x3 convolutions as in the paper, the output is a centre "
        "crop of the input; same: zero padding, the output has the input's size.",
    )
    batch_norm: bool = Field(
        True, description="Batch norm after each 3x3 convolution (the paper has none)."
    )
    upsampling: Literal["transpose", "bilinear"] = Field(
        "transpose",
        description="transpose: a 2x2 stride-2 transpose convolution halving the channels, as "
        "in the paper; bilinear: bilinear upsampling then a 1x1 convolution halving them.",
    )
    encoder: Literal["unet", "resnet18", "resnet34", "resnet50"] = Field(
        "unet",
        description="unet: the paper's contracting path; a zoo ResNet: its stem and stages "
        "(weights transferable from a classification run), depth and base_width then unused.",
    )
    encoder_params: dict[str, Any] = Field(
        default_factory=dict, description="The zoo encoder's own params (e.g. small_input)."
    )


# The paper's network: 1 input channel, 2 classes in its experiments.
PAPER_UNET = UNetParams(
    depth=4, base_width=64, padding="valid", batch_norm=False, upsampling="transpose"
)


class SegmentationLossParams(_Section):
    """Pixel-wise cross-entropy, optionally plus a soft Dice term (what practitioners add for
    small or rare classes)."""

    cross_entropy_weight: float = Field(1.0, ge=0.0, description="Weight of the cross-entropy.")
    dice_weight: float = Field(
        0.0, ge=0.0, description="Weight of the soft Dice loss (1 - mean Dice); 0 leaves it out."
    )
    dice_smooth: float = Field(
        1.0, gt=0.0, description="Added to the Dice numerator and denominator (empty classes)."
    )

    @model_validator(mode="after")
    def _some_loss(self) -> SegmentationLossParams:
        if self.cross_entropy_weight == 0 and self.dice_weight == 0:
            raise ValueError("cross_entropy_weight and dice_weight cannot both be 0")
        return self


class MaskParams(_Section):
    """Users' masks: which values mean which class (docs/segmentation.md, "Your own masks")."""

    classes: list[str] = Field(
        default_factory=list,
        description="Class names; value k of an index mask is classes[k]. Empty: the task's "
        "embedded classes.",
    )
    palette: dict[str, tuple[int, int, int]] = Field(
        default_factory=dict,
        description="Colour masks: class name -> [r, g, b]; empty: masks are index PNGs.",
    )
    ignore_index: int = Field(
        255, ge=0, le=255, description="Mask value no loss, metric or error type counts."
    )
    background: str = Field(
        "background", description="The class that is no object (error typing's background)."
    )
    images_folder: str = Field("images", description="Folder of images under the root.")
    masks_folder: str = Field(
        "masks", description="Folder of masks under the root; a mask has its image's stem."
    )

    @model_validator(mode="after")
    def _palette_names_classes(self) -> MaskParams:
        unknown = sorted(set(self.palette) - set(self.classes))
        if unknown:
            raise ValueError(f"palette names classes not in classes: {unknown}")
        if len(self.classes) > self.ignore_index and self.classes:
            raise ValueError(
                f"{len(self.classes)} classes reach ignore_index {self.ignore_index}: "
                "raise ignore_index or use fewer classes"
            )
        return self


class ErrorTypeParams(_Section):
    """Error typing with ceilings (`error_types`)."""

    boundary_width: int = Field(
        2, ge=0, description="Pixels either side of a true edge counted as its boundary band."
    )
    object_iou: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="A true object matched below this IoU is missed; a predicted one is false.",
    )


class SegmentationParams(_Section):
    """The `segmentation:` section the task seam adds to params."""

    unet: UNetParams = Field(default_factory=UNetParams, description=UNetParams.__doc__)
    loss: SegmentationLossParams = Field(
        default_factory=SegmentationLossParams, description=SegmentationLossParams.__doc__
    )
    masks: MaskParams = Field(default_factory=MaskParams, description=MaskParams.__doc__)
    errors: ErrorTypeParams = Field(
        default_factory=ErrorTypeParams, description=ErrorTypeParams.__doc__
    )
