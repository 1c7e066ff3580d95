"""train.source_data: the rows the optimizer sees (all, the target's only) and the per-row
loss weight of the source rows (weighted); the split, dev and test never change."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from helpers.training_project import digit_like_split

from traindev.config import SourceDataParams, TrainParams
from traindev.data.batches import split_rows
from traindev.data.store import read_store, write_store
from traindev.stages.train import SplitBatches
from traindev.training.distributed import DistributedContext
from traindev.training.objectives import SingleLabel
from traindev.training.source_data import (
    SourceWeighted,
    row_weights,
    target_domains,
    training_rows,
    weighted_targets,
)

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def two_domains(tmp_path_factory):
    """The notes' option 2: dev and test from the target `t`; every other train row (and
    train-dev row) from the source `s`."""
    manifest, pixels = digit_like_split(280)
    train = np.flatnonzero(manifest["split"].isin(["train", "train_dev"]).to_numpy())
    manifest.loc[train[::2], "domain"] = "s"
    root = tmp_path_factory.mktemp("split")
    write_store(root, manifest, pixels, [str(c) for c in range(10)], 16)
    return read_store(root)


def domains_of(store, rows) -> set[str]:
    return set(store.manifest["domain"].to_numpy()[rows])


def batches_for(store, mode: str, weight: float = 0.1) -> SplitBatches:
    params = TrainParams(
        batch_size=16, source_data=SourceDataParams(mode=mode, weight=weight), num_workers=0
    )
    weights = row_weights(store, params.source_data)
    targets = None if weights is None else weighted_targets(store, weights)
    return SplitBatches(store, params, CPU, DistributedContext(), targets)


def test_the_target_is_the_domain_of_dev_and_test(two_domains):
    assert target_domains(two_domains) == ("t",)


def test_all_and_weighted_train_on_every_train_row(two_domains):
    train = split_rows(two_domains, "train")
    assert domains_of(two_domains, train) == {"s", "t"}
    for mode in ("all", "weighted"):
        assert np.array_equal(training_rows(two_domains, SourceDataParams(mode=mode)), train)
        assert np.array_equal(batches_for(two_domains, mode).train_rows, train)


def test_target_only_trains_on_the_target_rows_of_the_train_split_alone(two_domains):
    batches = batches_for(two_domains, "target_only")
    train = split_rows(two_domains, "train")
    target = train[two_domains.manifest["domain"].to_numpy()[train] == "t"]
    assert 0 < len(target) < len(train)
    assert np.array_equal(batches.train_rows, target)
    # what the optimizer iterates over in an epoch: exactly those rows' labels
    epoch = batches.training()
    labels = Counter(int(label) for _, y in epoch for label in y)
    assert labels == Counter(two_domains.label_indices(target).tolist())
    assert len(epoch) == len(target)
    # train-dev and dev monitors stay the whole splits: only training changes
    assert len(batches.monitor()["train_dev"]) == len(split_rows(two_domains, "train_dev"))


def test_target_only_without_target_rows_in_train_is_an_error_saying_what_to_raise(
    tmp_path,
):
    manifest, pixels = digit_like_split(70)
    manifest.loc[manifest["split"] == "train", "domain"] = "s"
    write_store(tmp_path, manifest, pixels, [str(c) for c in range(10)], 16)
    with pytest.raises(ValueError, match=r"no row of the target domain .*split.target_to_train"):
        training_rows(read_store(tmp_path), SourceDataParams(mode="target_only"))


def test_weighted_batches_carry_each_rows_loss_weight(two_domains):
    batches = batches_for(two_domains, "weighted", weight=0.25)
    domain = two_domains.manifest["domain"].to_numpy()
    seen: list[tuple[int, float]] = []
    for _, y in batches.training():
        seen += [(int(label), float(w)) for label, w in y]
    rows = batches.train_rows
    expected = [
        (int(label), 0.25 if where == "s" else 1.0)
        for label, where in zip(two_domains.label_indices(rows), domain[rows], strict=True)
    ]
    assert Counter(seen) == Counter(expected)


def test_only_weighted_changes_the_objective_and_the_targets(two_domains):
    assert row_weights(two_domains, SourceDataParams(mode="all")) is None
    assert row_weights(two_domains, SourceDataParams(mode="target_only")) is None


def test_the_weighted_loss_scales_each_rows_cross_entropy_by_its_weight():
    torch.manual_seed(0)
    logits, labels = torch.randn(6, 10), torch.tensor([0, 3, 3, 9, 1, 2])
    plain = SingleLabel().loss_sum(logits, labels)
    ones = torch.stack([labels.float(), torch.ones(6)], dim=1)
    assert SourceWeighted().loss_sum(logits, ones) == pytest.approx(float(plain), rel=1e-6)
    weights = torch.tensor([1.0, 0.1, 0.1, 1.0, 0.1, 1.0])
    each = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    packed = torch.stack([labels.float(), weights], dim=1)
    assert float(SourceWeighted().loss_sum(logits, packed)) == pytest.approx(
        float((each * weights).sum()), rel=1e-6
    )
    # errors stay plain, unweighted error rates
    assert SourceWeighted().mistakes(logits, packed) == SingleLabel().mistakes(logits, labels)


@pytest.mark.parametrize(("weight", "ok"), [(0.0, False), (0.1, True), (1.0, True), (2.0, False)])
def test_the_weight_is_a_share_in_zero_to_one(weight, ok):
    if ok:
        assert SourceDataParams(mode="weighted", weight=weight).weight == weight
    else:
        with pytest.raises(ValueError, match="weight"):
            SourceDataParams(mode="weighted", weight=weight)
