"""Classification with localization: any zoo architecture with the notes' 5 + C outputs."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from traindev.models.registry import build_model
from traindev.tasks.detection.models.params import LocalizationParams
from traindev.tasks.detection.models.registry import build_detector


@pytest.mark.parametrize("backbone", ["logistic_regression", "deep_nn", "lenet5", "mobilenet_v2"])
def test_any_zoo_architecture_outputs_pc_box_and_classes(backbone: str) -> None:
    with torch.device("meta"):
        model = build_detector("localization", {"backbone": backbone}, (1, 64, 64), 3)
        y = model(torch.zeros(2, 1, 64, 64))
    assert y.shape == (2, 5 + 3)  # p_c, b_x, b_y, b_h, b_w, c_1..c_3


def test_a_classifiers_weights_transfer_except_its_last_layer() -> None:
    torch.manual_seed(0)
    classifier = build_model("lenet5", {}, (1, 64, 64), 10).state_dict()
    model = build_detector("localization", {}, (1, 64, 64), 10)
    last = "network.classifier.4."
    shared = {key: value for key, value in classifier.items() if not key.startswith(last)}
    missing, unexpected = model.load_state_dict(shared, strict=False)
    assert not unexpected and sorted(missing) == sorted(set(classifier) - set(shared))
    assert model.network.classifier[-1].out_features == 15


def test_an_unknown_backbone_lists_the_zoo() -> None:
    with pytest.raises(ValidationError, match="valid backbones: alexnet"):
        LocalizationParams(backbone="yolo")
