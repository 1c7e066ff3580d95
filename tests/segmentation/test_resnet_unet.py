"""U-Net with a zoo ResNet encoder: output at the input's size, a classifier's weights load."""

from __future__ import annotations

import pytest
import torch

from traindev.models.registry import build_model
from traindev.tasks.detection.models.backbones import load_backbone_state
from traindev.tasks.segmentation.params import UNetParams
from traindev.tasks.segmentation.resnet_unet import ResNetUNet
from traindev.tasks.segmentation.unet import UNet, build_unet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    ("encoder", "small_input", "size"),
    [("resnet18", True, (32, 40)), ("resnet50", False, (64, 64)), ("resnet18", False, (45, 37))],
)
def test_output_has_the_input_size(encoder, small_input, size):
    with torch.device("meta"):
        model = ResNetUNet(encoder, {"small_input": small_input}, UNetParams(), 1, 4)
        out = model(torch.zeros(2, 1, *size))
    assert out.shape == (2, 4, *size)


def test_a_classifiers_weights_initialize_the_encoder():
    classifier = build_model("resnet18", {"small_input": True}, (1, 32, 32), 10)
    state = {k.removeprefix("network."): v for k, v in classifier.state_dict().items()}
    model = ResNetUNet("resnet18", {"small_input": True}, UNetParams(), 1, 3)
    unused = load_backbone_state(model.encoder, classifier.state_dict())
    assert unused == ["fc.bias", "fc.weight"]
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, state[key])


def test_unknown_encoder_is_named():
    with pytest.raises(ValueError, match="resnet18"):
        ResNetUNet("vgg16", {}, UNetParams(), 1, 2)


def test_params_choose_the_encoder():
    with torch.device("meta"):
        zoo = build_unet(UNetParams(encoder="resnet34"), 3, 2)
        plain = build_unet(UNetParams(), 3, 2)
    assert isinstance(zoo, ResNetUNet) and isinstance(plain, UNet)
