"""A tiny YOLO trained by the project's Trainer: it learns, resumes bit-identically, trips the
NaN guard, trains under bf16 autocast, and its predictions come back per row, in row order."""

from __future__ import annotations

import kornia.augmentation as K
import numpy as np
import pytest
import torch
from helpers.rectangle_canvases import rectangle_canvases

from traindev.config import TrainParams
from traindev.data.batches import split_rows
from traindev.data.geometric_targets import TargetAugmenter
from traindev.tasks.detection.batches import DetectionBatches, store_targets
from traindev.tasks.detection.encoding import decode
from traindev.tasks.detection.models.registry import build_detector
from traindev.tasks.detection.objective import YoloObjective
from traindev.tasks.detection.predict import predict_detections
from traindev.tasks.detection.targets import YoloTargets
from traindev.training.runtime import seed_everything
from traindev.training.state import fingerprint, load_state, save_state
from traindev.training.trainer import NonFiniteLossError, Trainer

CPU = torch.device("cpu")
pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = {"backbone_params": {"filters": [8, 16, 16]}, "head_channels": 16}
PARAMS = dict(
    architectures=["deep_nn"],  # the trainer reads only the optimization settings
    epochs=3,
    batch_size=8,
    seed=4,
    optimizer="adam",
    lr=0.01,
    progress="never",
)


def setup(augment: bool = False, **overrides) -> tuple[Trainer, dict]:
    params = TrainParams(**{**PARAMS, **overrides})
    seed_everything(params.seed, params.deterministic)
    store, boxes = rectangle_canvases()
    rows = split_rows(store, "train")
    targets = YoloTargets.from_training_boxes(
        store_targets(store, rows, boxes), (32, 32), 4, 3, anchors=2, seed=0
    )
    model = build_detector("yolo", TINY, (1, 32, 32), 3, grid=4, num_anchors=2)
    shift = TargetAugmenter([K.RandomAffine(degrees=0, translate=(0.1, 0.1))], seed=1)
    train = DetectionBatches.of_split(
        store, "train", boxes, targets, batch_size=8, device=CPU, shuffle=True,
        seed=params.seed, augment=shift if augment else None,
    )  # fmt: skip
    dev = DetectionBatches.of_split(store, "dev", boxes, targets, batch_size=16, device=CPU)
    trainer = Trainer(model, params, CPU, objective=YoloObjective(targets))
    return trainer, {
        "train": train,
        "monitor": {"train": train, "train_dev": dev, "dev": dev},
        "store": store,
        "targets": targets,
    }


def test_the_trainer_fits_a_yolo_model_its_loss_falling():
    trainer, data = setup(epochs=6)
    result = trainer.fit(data["train"], data["monitor"])
    losses = [record.loss for record in result.history]
    assert losses[-1] < losses[0] / 2
    assert all(0.0 <= record.dev_error <= 1.0 for record in result.history)
    assert result.examples_seen == 6 * 24


def test_resuming_an_augmented_yolo_run_ends_with_identical_weights(tmp_path):
    whole, data = setup(augment=True)
    uninterrupted = whole.fit(data["train"], data["monitor"])

    identity = fingerprint({"test": "yolo"})
    first, data = setup(augment=True)
    saved = []
    first.fit(data["train"], data["monitor"], on_checkpoint=saved.append, fingerprint=identity)
    save_state(tmp_path / "last.pt", saved[0])  # as if killed during epoch 2

    second, data = setup(augment=True)
    torch.manual_seed(999)  # wherever the restart's RNG happens to be
    state = load_state(tmp_path / "last.pt", identity)
    resumed = second.fit(data["train"], data["monitor"], resume=state)

    assert resumed.resumed_from == 1
    assert [r.loss for r in resumed.history] == [r.loss for r in uninterrupted.history]
    for (name, a), (_, b) in zip(
        whole.model.state_dict().items(), second.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_a_diverging_yolo_run_is_stopped_by_the_nan_guard():
    trainer, data = setup(epochs=2, optimizer="sgd", lr=10.0)
    with pytest.raises(NonFiniteLossError, match="epoch 1"):
        trainer.fit(data["train"], data["monitor"])


def test_a_yolo_model_trains_under_bf16_autocast_with_float32_weights():
    trainer, data = setup(epochs=1, precision="bf16")
    assert trainer.precision.name == "bf16"
    result = trainer.fit(data["train"], data["monitor"])
    assert np.isfinite(result.history[0].loss)
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())


def test_predictions_come_back_one_per_row_in_the_rows_order():
    trainer, data = setup(epochs=2)
    trainer.fit(data["train"], data["monitor"])
    store, targets = data["store"], data["targets"]
    rows = np.array([9, 2, 30, 5, 17])
    found = predict_detections(trainer.model, store, rows, targets, 0.05, 0.5, batch_size=2)
    pixels = torch.from_numpy(store.pixels[rows]).permute(0, 3, 1, 2) / 255
    with torch.no_grad():
        expected = decode(trainer.model.eval()(pixels), targets.anchors, (32, 32), 0.05, 0.5)
    assert len(found) == len(rows)
    for got, want in zip(found, expected, strict=True):
        assert torch.allclose(got.boxes, want.boxes) and torch.equal(got.classes, want.classes)
    assert sum(len(d.scores) for d in found) > 0
