"""Single-label softmax and the notes' multi-label loss with missing labels masked out."""

from __future__ import annotations

import math

import torch

from traindev.training.objectives import MultiLabel, SingleLabel

NAN = float("nan")


def test_multi_label_loss_sums_only_the_labels_present():
    logits = torch.tensor([[0.0, 2.0, -1.0], [1.0, 0.0, 3.0]])
    targets = torch.tensor([[1.0, NAN, 0.0], [NAN, NAN, 1.0]])
    loss = MultiLabel().loss_sum(logits, targets)

    def logistic(z: float, y: float) -> float:
        p = 1 / (1 + math.exp(-z))
        return -(y * math.log(p) + (1 - y) * math.log(1 - p))

    expected = logistic(0.0, 1) + logistic(-1.0, 0) + logistic(3.0, 1)
    assert math.isclose(loss.item(), expected, rel_tol=1e-6)
    assert torch.isfinite(loss)


def test_a_missing_label_gives_no_gradient_to_its_output():
    logits = torch.zeros(2, 2, requires_grad=True)
    targets = torch.tensor([[1.0, NAN], [0.0, NAN]])
    MultiLabel().loss_sum(logits, targets).backward()
    assert torch.all(logits.grad[:, 1] == 0)
    assert torch.all(logits.grad[:, 0] != 0)


def test_multi_label_mistakes_count_present_labels_only():
    logits = torch.tensor([[2.0, -2.0], [-2.0, 2.0], [2.0, 2.0]])
    targets = torch.tensor([[1.0, 1.0], [NAN, 1.0], [0.0, NAN]])
    wrong, scored = MultiLabel().mistakes(logits, targets)
    assert (int(wrong), int(scored)) == (2, 4)


def test_single_label_loss_is_the_summed_cross_entropy():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    targets = torch.tensor([0, 0])
    expected = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
    assert torch.isclose(SingleLabel().loss_sum(logits, targets), expected)
    wrong, scored = SingleLabel().mistakes(logits, targets)
    assert (int(wrong), int(scored)) == (1, 2)
