"""YOLO's objective in the trainer's interface: the loss as a batch sum, and the per-image
error of the contract (a miss or a false detection at IoU 0.5, greedy by score)."""

from __future__ import annotations

import numpy as np
import torch
from helpers.rectangle_canvases import rectangle_canvases

from traindev.tasks.detection.batches import store_targets
from traindev.tasks.detection.boxes import Detections
from traindev.tasks.detection.encoding import encode, raw_from_target
from traindev.tasks.detection.losses import yolo_loss
from traindev.tasks.detection.metrics import detection_metrics
from traindev.tasks.detection.objective import YoloObjective, image_is_wrong
from traindev.tasks.detection.targets import YoloTargets

ANCHORS = torch.tensor([[1.0, 1.0], [2.0, 2.0]])
TARGETS = YoloTargets((32, 32), 4, ANCHORS, 3)


def found(boxes, scores, classes) -> Detections:
    return Detections(
        torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        torch.tensor(scores, dtype=torch.float32),
        torch.tensor(classes, dtype=torch.int64),
    )


TRUTH = found([[0, 0, 10, 10], [20, 20, 30, 30]], [1, 1], [0, 1])


def test_an_image_is_right_only_when_every_object_and_detection_pair_up():
    assert not image_is_wrong(found([[20, 20, 30, 31], [0, 0, 10, 10]], [0.9, 0.8], [1, 0]), TRUTH)
    assert not image_is_wrong(found([], [], []), found([], [], []))


def test_a_miss_a_wrong_class_a_loose_box_or_a_duplicate_makes_the_image_wrong():
    assert image_is_wrong(found([[0, 0, 10, 10]], [0.9], [0]), TRUTH)  # missed object
    assert image_is_wrong(found([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8], [0, 2]), TRUTH)
    assert image_is_wrong(found([[0, 0, 10, 10], [24, 24, 34, 34]], [0.9, 0.8], [0, 1]), TRUTH)
    twice = [[0, 0, 10, 10], [20, 20, 30, 30], [1, 1, 10, 10]]
    duplicate = found(twice, [0.9, 0.8, 0.7], [0, 1, 0])
    assert image_is_wrong(duplicate, TRUTH)
    assert image_is_wrong(found([[0, 0, 5, 5]], [0.9], [0]), found([], [], []))


def targets() -> torch.Tensor:
    one = encode(torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([2]), (32, 32), 4, ANCHORS, 3)
    two = encode(TRUTH.boxes, TRUTH.classes, (32, 32), 4, ANCHORS, 3)
    return torch.stack([one, two])


def test_the_loss_is_yolos_batch_mean_times_the_batch_so_the_trainer_can_divide():
    raw = torch.randn(2, 4, 4, 2, 8)
    target = targets()
    loss = YoloObjective(TARGETS).loss_sum(raw, target)
    assert torch.allclose(loss, 2 * yolo_loss(raw, target, ANCHORS))


def test_a_perfect_output_makes_no_mistake_and_a_silent_one_misses_every_image():
    target = targets()
    objective = YoloObjective(TARGETS)
    wrong, scored = objective.mistakes(raw_from_target(target, ANCHORS), target)
    assert (int(wrong), int(scored)) == (0, 2)
    silent = torch.full_like(target, -20.0)
    wrong, _ = objective.mistakes(silent, target)
    assert int(wrong) == 2


def perturbed(boxes: np.ndarray, classes: np.ndarray, rng: np.random.Generator) -> Detections:
    """A detector's answer built from the truth: boxes jittered (some far), some objects
    missed, some classes swapped, some background boxes and duplicates added."""
    keep = rng.random(len(classes)) > 0.15
    shift = rng.normal(0, 1.5, (len(classes), 4)) * (1 + 4 * (rng.random((len(classes), 1)) < 0.2))
    moved = boxes[keep] + shift[keep]
    found = np.concatenate(
        [np.minimum(moved[:, :2], moved[:, 2:]), np.maximum(moved[:, 2:], moved[:, :2] + 1)], axis=1
    )
    labels = np.where(rng.random(len(classes)) < 0.15, (classes + 1) % 3, classes)[keep]
    extra = int(rng.random() < 0.3)
    corner = rng.uniform(0, 24, (extra, 2))
    found = np.concatenate([found, np.concatenate([corner, corner + 8], axis=1)])
    labels = np.concatenate([labels, rng.integers(0, 3, extra)])
    if len(found) and rng.random() < 0.2:  # a duplicate of the first box, scored lower
        found, labels = np.concatenate([found, found[:1] + 1]), np.concatenate([labels, labels[:1]])
    scores = rng.uniform(0.5, 1.0, len(labels))
    return Detections(
        torch.as_tensor(found, dtype=torch.float32).reshape(-1, 4),
        torch.as_tensor(scores, dtype=torch.float32),
        torch.as_tensor(labels, dtype=torch.int64),
    )


def test_the_trainers_image_error_is_the_one_metrics_py_computes_with_pycocotools():
    """One definition of a wrong image: what the trainer logs per epoch agrees, image by image,
    with evaluation's (COCOeval's matches) on a mix of misses, swaps, loose boxes and extras."""
    store, boxes = rectangle_canvases(n=200, objects=3, side=32)
    rows = np.arange(200)
    truths = store_targets(store, rows, boxes)
    rng = np.random.default_rng(0)
    found = [perturbed(b, c, rng) for b, c in truths]
    coco = detection_metrics(boxes, found, list(store.manifest["id"]), store.classes)
    ours = [
        image_is_wrong(p, Detections(torch.as_tensor(b), torch.ones(len(c)), torch.as_tensor(c)))
        for p, (b, c) in zip(found, truths, strict=True)
    ]
    assert ours == coco.image_wrong.tolist()
    assert 0.2 < np.mean(ours) < 0.9  # both kinds of image are there
