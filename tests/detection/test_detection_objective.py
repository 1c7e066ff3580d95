"""YOLO's objective in the trainer's interface: the loss as a batch sum, and the per-image
error of the contract (a miss or a false detection at IoU 0.5, greedy by score)."""

from __future__ import annotations

import torch

from traindev.tasks.detection.boxes import Detections
from traindev.tasks.detection.encoding import encode, raw_from_target
from traindev.tasks.detection.losses import yolo_loss
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
