"""Feature extractors for detection heads: the convolutional part of any zoo architecture,
Darknet-19, or the small Darknet-style stack.

A zoo trunk keeps the zoo model's own child modules under their own names (its classifier,
global pool and dropout left out), so a classification run's state dict loads into it with
`load_backbone_state`: transfer learning from a classifier to a detector needs no renaming.
Trunks run at the data's own size (they are fully convolutional); the zoo's input adapter,
which resizes to the classifier's native size, is not used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from traindev.models.inception import POOL_BEFORE, GoogLeNet
from traindev.models.registry import get_architecture, validate_params
from traindev.models.resnet import ResNet
from traindev.tasks.detection.models.darknet import Darknet19, DarknetSmall
from traindev.tasks.detection.models.params import (
    CONVOLUTIONAL_ZOO,
    Darknet19Params,
    DarknetSmallParams,
    backbone_schema,
)


def _resnet_trunk(trunk: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return trunk.stages(trunk.stem(x))


def _features_trunk(trunk: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return trunk.features(x)


def _googlenet_trunk(trunk: nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = trunk.stem(x)
    for name, module in trunk.inception.items():
        if name in POOL_BEFORE:
            x = trunk.pool(x)
        x = module(x)
    return x


# zoo class -> (the children that compute its feature map, how they run); any other
# convolutional zoo model computes it with `features`. Named functions, not lambdas, so that a
# model holding a trunk pickles.
TRUNKS: dict[type, tuple[tuple[str, ...], Callable[[nn.Module, torch.Tensor], torch.Tensor]]] = {
    ResNet: (("stem", "stages"), _resnet_trunk),
    GoogLeNet: (("stem", "inception", "pool"), _googlenet_trunk),
}
FEATURES_ONLY = (("features",), _features_trunk)
ADAPTED = "network."  # where InputAdapter keeps the classifier it resizes for


class ZooTrunk(nn.Module):
    """The feature-map part of a zoo classifier, its modules under the classifier's names."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        children, self._run = TRUNKS.get(type(model), FEATURES_ONLY)
        for name in children:
            self.add_module(name, getattr(model, name))
        self.source = type(model).__name__

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(self, x)

    def extra_repr(self) -> str:
        return f"from {self.source}"


def build_backbone(name: str, params: Mapping[str, Any], in_channels: int) -> nn.Module:
    """A feature extractor taking NCHW at any size large enough for its pools."""
    if name == "darknet19":
        return Darknet19(in_channels, Darknet19Params.model_validate(params))
    if name == "darknet_small":
        return DarknetSmall(in_channels, DarknetSmallParams.model_validate(params))
    if name not in CONVOLUTIONAL_ZOO:
        backbone_schema(name)  # raises with the list of valid names
    arch = get_architecture(name)
    checked = validate_params(name, dict(params))
    native = arch.native_input(checked) or (32, 32)
    # The classifier's class count only sizes the layers the trunk drops.
    return ZooTrunk(arch.build(checked, (in_channels, *native), 1))


@torch.no_grad()
def feature_shape(module: nn.Module, input_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """(C, H, W) the module outputs for one (C, H, W) input, computed on the meta device:
    shapes only, no arithmetic, whatever device the module lives on."""
    state = {
        name: tensor.to("meta")
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]
    }
    was_training = module.training
    module.eval()
    try:
        out = functional_call(module, state, (torch.zeros(1, *input_shape, device="meta"),))
    finally:
        module.train(was_training)
    return tuple(out.shape[1:])  # type: ignore[return-value]


def load_backbone_state(backbone: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """Load a classifier's weights into a trunk built from the same architecture.

    `state` is the classifier's state dict as training saved it, bare or wrapped in the zoo's
    InputAdapter (keys under `network.`). Every trunk tensor must be in it (a missing one means
    another architecture); the classifier's own head (fc / classifier) is left out. Returns the
    keys left unused.
    """
    wanted = backbone.state_dict().keys()
    if not set(wanted) <= set(state):
        unwrapped = {key.removeprefix(ADAPTED): value for key, value in state.items()}
        state = unwrapped if set(wanted) <= set(unwrapped) else state
    missing = sorted(set(wanted) - set(state))
    if missing:
        raise KeyError(f"the state dict lacks backbone weights, e.g. {missing[:3]}")
    backbone.load_state_dict({key: state[key] for key in wanted})
    return sorted(set(state) - set(wanted))
