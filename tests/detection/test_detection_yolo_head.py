"""The YOLO head on any backbone: the raw (N, S, S, B, 5 + C) layout, the grid rule, and
transfer of a classifier's weights into its trunk."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from traindev.models.registry import build_model
from traindev.tasks.detection.models.backbones import build_backbone, load_backbone_state
from traindev.tasks.detection.models.layers import to_raw_layout
from traindev.tasks.detection.models.params import BACKBONES, YoloParams
from traindev.tasks.detection.models.registry import build_detector

# One backbone per zoo class: the trunk is chosen by the class, not the variant.
ONE_PER_FAMILY = [
    name for name in BACKBONES if not name.startswith(("resnet3", "resnet18", "efficientnet_b"))
] + ["efficientnet_b0"]


@pytest.mark.parametrize("backbone", ONE_PER_FAMILY)
def test_every_backbone_gives_the_raw_grid_layout(backbone: str) -> None:
    with torch.device("meta"):
        model = build_detector(
            "yolo", {"backbone": backbone}, (1, 64, 64), 10, grid=2, num_anchors=3
        )
        raw = model(torch.zeros(4, 1, 64, 64))
    assert raw.shape == (4, 2, 2, 3, 15)


def test_anchor_b_reads_the_bth_block_of_prediction_channels() -> None:
    """(N, B * (5 + C), S, S) -> (N, S, S, B, 5 + C): channel b * (5 + C) + k is anchor b's k-th
    value in every cell."""
    n, anchors, per_anchor, rows, cols = 2, 3, 7, 4, 5
    flat = torch.arange(n * anchors * per_anchor * rows * cols).float()
    prediction = flat.view(n, anchors * per_anchor, rows, cols)
    raw = to_raw_layout(prediction, anchors)
    assert raw.shape == (n, rows, cols, anchors, per_anchor)
    for b in range(anchors):
        for k in range(per_anchor):
            assert torch.equal(raw[:, :, :, b, k], prediction[:, b * per_anchor + k])


def test_a_finer_feature_map_is_pooled_to_the_grid_and_a_coarser_one_refused() -> None:
    torch.manual_seed(0)
    fine = build_detector("yolo", {}, (1, 64, 64), 10, grid=4, num_anchors=2)  # 8x8 features
    assert fine(torch.rand(2, 1, 64, 64)).shape == (2, 4, 4, 2, 15)
    with pytest.raises(ValueError, match="2x2 feature map, coarser than the 4x4 grid"):
        build_detector("yolo", {"backbone": "vgg16"}, (1, 64, 64), 10, grid=4, num_anchors=2)


def test_backbone_params_are_checked_against_the_backbones_own_schema() -> None:
    with pytest.raises(ValidationError, match="width_multiplier"):
        YoloParams(backbone="mobilenet_v2", backbone_params={"width_multiplier": -1})
    with pytest.raises(ValidationError, match="unknown backbone 'deep_nn'"):
        YoloParams(backbone="deep_nn")
    assert YoloParams(backbone="resnet18").backbone_params["small_input"] is True


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "mobilenet_v1", "lenet5"])
def test_a_classifiers_weights_load_into_the_trunk_and_compute_its_features(name: str) -> None:
    """Transfer learning: the trunk's names are the classifier's, and with its weights the trunk
    computes exactly the feature map the classifier pools (or flattens) for its head."""
    torch.manual_seed(0)
    classifier = build_model(name, {}, (1, 32, 32), 10).eval()
    trunk = build_backbone(name, {}, 1).eval()
    unused = load_backbone_state(trunk, classifier.state_dict())
    assert unused and all(key.split(".")[0] in {"fc", "classifier"} for key in unused)
    captured: list[torch.Tensor] = []
    head = classifier.fc if hasattr(classifier, "fc") else classifier.classifier
    head.register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        classifier(x)
        features = trunk(x)
    pooled = features.mean(dim=(2, 3)) if hasattr(classifier, "fc") else features.flatten(1)
    torch.testing.assert_close(pooled, captured[0])


def test_a_classifier_trained_behind_the_input_adapter_transfers_too() -> None:
    """On 8x8 digits LeNet-5 is wrapped in the adapter that resizes to 32x32 (keys `network.`)."""
    classifier = build_model("lenet5", {}, (1, 8, 8), 10)
    trunk = build_backbone("lenet5", {}, 1)
    load_backbone_state(trunk, classifier.state_dict())
    torch.testing.assert_close(trunk.features[0].weight, classifier.network.features[0].weight)


def test_a_detector_on_a_zoo_trunk_pickles_whole(tmp_path) -> None:
    """torch.save of the whole module (as checkpoints and MLflow's pickle flavour do)."""
    model = build_detector("yolo", {"backbone": "lenet5"}, (1, 64, 64), 3, grid=2, num_anchors=1)
    torch.save(model, tmp_path / "model.pt")
    loaded = torch.load(tmp_path / "model.pt", weights_only=False).eval()
    x = torch.rand(2, 1, 64, 64)
    torch.testing.assert_close(loaded(x), model.eval()(x))


def test_a_state_dict_of_another_architecture_is_refused() -> None:
    trunk = build_backbone("resnet18", {}, 1)
    with pytest.raises(KeyError, match="lacks backbone weights"):
        load_backbone_state(trunk, build_model("lenet5", {}, (1, 32, 32), 10).state_dict())
