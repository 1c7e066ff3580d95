"""Hyperparameter schemas of each architecture, kept free of torch so that
validating params.yaml stays fast in stages that never build a model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Activation = Literal["relu", "leaky_relu", "tanh", "sigmoid"]


class ArchitectureParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeepNetworkParams(ArchitectureParams):
    """The notes' deep L-layer network: [LINEAR -> ACT] x (L-1) -> LINEAR -> softmax."""

    hidden_sizes: list[int] = Field(default_factory=lambda: [256, 128], min_length=1)
    activation: Activation = "relu"
    # He initialization for ReLU-family activations, Xavier for tanh / sigmoid (course 2, week 1).
    init: Literal["he", "xavier", "default"] = "he"
    batch_norm: bool = False
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class LeNet5Params(ArchitectureParams):
    """LeNet-5 (LeCun et al., 1998) as the notes draw it: 32x32x1 -> conv5x5/6 -> pool ->
    conv5x5/16 -> pool -> FC120 -> FC84 -> softmax."""

    activation: Activation = "tanh"
    pooling: Literal["avg", "max"] = "avg"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


# name in params.yaml -> its hyperparameter schema. The builders live in registry.py.
ARCHITECTURE_PARAMS: dict[str, type[ArchitectureParams]] = {
    "deep_nn": DeepNetworkParams,
    "lenet5": LeNet5Params,
}
