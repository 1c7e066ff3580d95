"""Hyperparameter schemas of each architecture, kept free of torch so that
validating params.yaml stays fast in stages that never build a model.

Every schema knows the input size its architecture is defined at (`native_input`):
the model resizes whatever the data is to that size inside its forward pass, so the
saved model accepts the data's own size. Convolutional families have `small_input`:
the documented adaptation for 8x8 / 32x32 data (CIFAR-style stems without the early
downsampling), defined at 32x32; `small_input: false` is the paper's configuration.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Activation = Literal["relu", "leaky_relu", "tanh", "sigmoid"]
SMALL_INPUT = (32, 32)
DROPOUT = "Dropout rate; the notes' keep_prob (1 - rate) is accepted instead."


class ArchitectureParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _keep_prob_is_one_minus_dropout(cls, data: Any) -> Any:
        """The notes' `keep_prob` (course 2, week 1) is accepted as 1 - dropout rate."""
        if not isinstance(data, dict) or "keep_prob" not in data:
            return data
        if "dropout" not in cls.model_fields:
            return data  # extra="forbid" names keep_prob as unknown for this architecture
        if data.get("dropout") is not None:
            raise ValueError("give dropout (the rate) or keep_prob (1 - rate), not both")
        keep_prob = data["keep_prob"]
        if not isinstance(keep_prob, int | float) or not 0.0 < keep_prob <= 1.0:
            raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob!r}")
        return {key: value for key, value in data.items() if key != "keep_prob"} | {
            "dropout": round(1.0 - float(keep_prob), 12)
        }

    def native_input(self, name: str) -> tuple[int, int] | None:
        """(H, W) the architecture is defined at; None: any size (it flattens or scans rows)."""
        return None


class LogisticRegressionParams(ArchitectureParams):
    """Course 1, week 2: logistic regression as a one-layer network (softmax for K classes)."""

    init: Literal["zeros", "default"] = Field(
        "zeros",
        description="zeros: the notes initialize w and b to zero (fine for logistic "
        "regression); default: PyTorch's initialization.",
    )


class ShallowNetworkParams(ArchitectureParams):
    """Course 1, week 3: one hidden layer, tanh as the notes' default hidden activation."""

    hidden_size: int = Field(64, ge=1, description="Units in the hidden layer.")
    activation: Activation = Field("tanh", description="Hidden activation.")
    init: Literal["he", "xavier", "small_random", "default"] = Field(
        "small_random",
        description="small_random: the notes' small Gaussian weights; he (ReLU), xavier "
        "(tanh), or PyTorch's default.",
    )


class DeepNetworkParams(ArchitectureParams):
    """The notes' deep L-layer network: [LINEAR -> ACT] x (L-1) -> LINEAR -> softmax."""

    hidden_sizes: list[int] = Field(
        default_factory=lambda: [256, 128], min_length=1, description="Units per hidden layer."
    )
    activation: Activation = Field("relu", description="Hidden activation.")
    init: Literal["he", "xavier", "default"] = Field(
        "he",
        description="he for ReLU-family activations, xavier for tanh / sigmoid (course 2, "
        "week 1), or PyTorch's default.",
    )
    batch_norm: bool = Field(True, description="Batch normalization after each hidden layer.")
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description=DROPOUT)


class LeNet5Params(ArchitectureParams):
    """LeNet-5 (LeCun et al., 1998) as the notes draw it: 32x32x1 -> conv5x5/6 -> pool ->
    conv5x5/16 -> pool -> FC120 -> FC84 -> softmax."""

    activation: Activation = Field("tanh", description="Activation, tanh as in 1998.")
    pooling: Literal["avg", "max"] = Field("avg", description="avg, as in 1998, or max.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description=DROPOUT)

    def native_input(self, name: str) -> tuple[int, int] | None:
        return (32, 32)


class ConvNetParams(ArchitectureParams):
    """Shared by the ImageNet-era families: the paper's configuration or the small adaptation."""

    small_input: bool = Field(
        True,
        description="true: the documented small-image adaptation, defined at 32x32; false: "
        "the paper's configuration and input size.",
    )
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description=DROPOUT)

    def native_input(self, name: str) -> tuple[int, int] | None:
        return SMALL_INPUT if self.small_input else REFERENCE_INPUT[name]


class AlexNetParams(ConvNetParams):
    """AlexNet as the notes draw it (227x227x3, 96-256-384-384-256 filters, FC 4096-4096)."""


class VGG16Params(ConvNetParams):
    """VGG-16: 13 3x3 'same' convolutions in 5 blocks with 2x2 max pools, FC 4096-4096."""

    batch_norm: bool = Field(False, description="Batch normalization after each convolution.")


class ResNetParams(ConvNetParams):
    """ResNet-18/34 (basic blocks) and -50 (bottleneck blocks), projection shortcuts."""

    dropout: float = Field(0.0, ge=0.0, lt=1.0, description=DROPOUT)


class GoogLeNetParams(ConvNetParams):
    """GoogLeNet (Inception v1): inception modules with 1x1 bottlenecks, a real 5x5 branch."""

    dropout: float = Field(0.4, ge=0.0, lt=1.0, description=DROPOUT)
    batch_norm: bool = Field(
        False,
        description="Batch normalization after each convolution; the 2014 paper has none, "
        "true trains far more easily.",
    )


class MobileNetParams(ConvNetParams):
    """MobileNet v1 (depthwise separable) and v2 (inverted residuals, linear bottlenecks)."""

    width_multiplier: float = Field(
        1.0, gt=0.0, le=4.0, description="Channels of every layer, scaled (the paper's alpha)."
    )
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description=DROPOUT)


class EfficientNetParams(ConvNetParams):
    """EfficientNet B0-B7: MBConv + squeeze-and-excitation, compound-scaled per variant.

    `dropout` None takes the variant's own rate from the scaling table.
    """

    dropout: float | None = Field(
        None, ge=0.0, lt=1.0, description="Dropout rate; null: the variant's own rate."
    )
    stochastic_depth: float = Field(
        0.2, ge=0.0, lt=1.0, description="Chance of dropping a residual block in training."
    )

    def native_input(self, name: str) -> tuple[int, int] | None:
        if self.small_input:
            return SMALL_INPUT
        resolution = EFFICIENTNET_RESOLUTION[name]
        return (resolution, resolution)


class SequenceParams(ArchitectureParams):
    """RNN / GRU / LSTM that read an image row by row (H steps of W*C features)."""

    hidden_size: int = Field(128, ge=1, description="Units of the recurrent state.")
    num_layers: int = Field(1, ge=1, description="Above 1: the notes' deep (stacked) RNN.")
    bidirectional: bool = Field(False, description="Read the rows in both directions.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout between stacked layers.")


REFERENCE_INPUT: dict[str, tuple[int, int]] = {
    "alexnet": (227, 227),
    "vgg16": (224, 224),
    "resnet18": (224, 224),
    "resnet34": (224, 224),
    "resnet50": (224, 224),
    "googlenet": (224, 224),
    "mobilenet_v1": (224, 224),
    "mobilenet_v2": (224, 224),
}
# EfficientNet's compound scaling: resolution per variant (Tan & Le 2019, table in the code).
EFFICIENTNET_RESOLUTION = {
    "efficientnet_b0": 224,
    "efficientnet_b1": 240,
    "efficientnet_b2": 260,
    "efficientnet_b3": 300,
    "efficientnet_b4": 380,
    "efficientnet_b5": 456,
    "efficientnet_b6": 528,
    "efficientnet_b7": 600,
}

# name in params.yaml -> its hyperparameter schema. The builders live in registry.py.
ARCHITECTURE_PARAMS: dict[str, type[ArchitectureParams]] = {
    "logistic_regression": LogisticRegressionParams,
    "shallow_nn": ShallowNetworkParams,
    "deep_nn": DeepNetworkParams,
    "lenet5": LeNet5Params,
    "alexnet": AlexNetParams,
    "vgg16": VGG16Params,
    "resnet18": ResNetParams,
    "resnet34": ResNetParams,
    "resnet50": ResNetParams,
    "googlenet": GoogLeNetParams,
    "mobilenet_v1": MobileNetParams,
    "mobilenet_v2": MobileNetParams,
    **{name: EfficientNetParams for name in EFFICIENTNET_RESOLUTION},
    "rnn": SequenceParams,
    "gru": SequenceParams,
    "lstm": SequenceParams,
}
