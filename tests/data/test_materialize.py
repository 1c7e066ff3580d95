"""Offline augmentation: the augment stage's copies, and training epochs reading them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from helpers.dvc_project import Project, ran_stages
from helpers.image_stores import tiny_store
from pydantic import ValidationError

from traindev.config import AugmentParams, TrainParams
from traindev.data import materialize as materialize_module
from traindev.data.augmentation import make_augmenter
from traindev.data.batches import EpochCopies, TensorBatches, split_rows, to_model_input
from traindev.data.materialize import OfflineCopiesError, check_offline, materialize
from traindev.data.offline_store import AUGMENTED_PIXEL_MAX, COPY_COLUMN, copy_rows, write_empty
from traindev.data.store import read_store, write_store
from traindev.stages.train import SplitBatches
from traindev.training.distributed import DistributedContext

CPU = torch.device("cpu")
ROTATE = [{"name": "Rotate", "limit": 30, "p": 1.0}]


def offline_params(copies: int, backend: str = "batched") -> TrainParams:
    augment = AugmentParams(
        enabled=True, preset="none", transforms=ROTATE, backend=backend, offline_copies=copies
    )
    return TrainParams(architectures=["deep_nn"], batch_size=8, augment=augment)


def on_the_fly(store, params: TrainParams, epoch: int) -> np.ndarray:
    """What training epoch `epoch` augments on the fly, as the stored uint8 levels."""
    rows = split_rows(store, "train")
    augmenter = make_augmenter(params.augment, store, params.seed)
    if augmenter.backend == "batched":
        x = to_model_input(torch.from_numpy(store.pixels[rows]), store.pixel_max)
        images = augmenter(x, torch.from_numpy(rows), epoch).permute(0, 2, 3, 1).numpy()
    else:
        images = augmenter(store.pixels[rows], rows, epoch)
    return images * AUGMENTED_PIXEL_MAX


@pytest.mark.parametrize("backend", ["batched", "albumentations"])
def test_copy_k_holds_what_epoch_k_plus_1_draws_on_the_fly(tmp_path, backend):
    store = tiny_store(24)
    params = offline_params(2, backend)
    made = materialize(store, params, tmp_path / "augmented")
    offline = read_store(tmp_path / "augmented")
    assert (made.copies, made.images, made.backend) == (2, 12, backend)
    assert offline.pixel_max == AUGMENTED_PIXEL_MAX and len(offline.manifest) == 24
    for copy in (0, 1):
        stored = offline.pixels[copy_rows(offline, copy)].astype(np.float32)
        assert np.abs(stored - on_the_fly(store, params, copy + 1)).max() <= 0.5 + 1e-3
    first, second = (offline.pixels[copy_rows(offline, copy)] for copy in (0, 1))
    assert not np.array_equal(first, second)  # each copy is its own epoch's draw
    assert (
        offline.manifest["label"].to_numpy()[:12]
        == store.manifest["label"].iloc[split_rows(store, "train")].to_numpy()
    ).all()


def test_training_epoch_e_reads_copy_e_minus_1_mod_n_in_the_on_the_fly_order(tmp_path):
    store = tiny_store(48)
    params = offline_params(2)
    materialize(store, params, tmp_path / "augmented")
    offline = read_store(tmp_path / "augmented")
    batches = SplitBatches(store, params, CPU, DistributedContext(), offline=offline)
    training = batches.training()
    assert isinstance(training, EpochCopies) and len(training) == 24

    def epoch(number: int) -> tuple[torch.Tensor, torch.Tensor]:
        training.set_epoch(number)
        xs, ys = zip(*training, strict=True)
        return torch.cat(xs), torch.cat(ys)

    def images(x: torch.Tensor) -> np.ndarray:  # order-free: each epoch shuffles anew
        return np.unique(x.reshape(len(x), -1).numpy(), axis=0)

    (x1, _), (x2, _), (x3, _) = epoch(1), epoch(2), epoch(3)
    assert np.array_equal(images(x1), images(x3))  # 2 copies: epoch 3 reads copy 0 again
    assert not np.array_equal(images(x1), images(x2))
    plain = TensorBatches.from_store(store, split_rows(store, "train"), 8, CPU, shuffle=True)
    plain.set_epoch(2)
    assert torch.equal(epoch(2)[1], torch.cat([y for _, y in plain]))  # the same batches


def test_stale_offline_copies_name_the_stage_to_rerun(tmp_path):
    store = tiny_store(24)
    materialize(store, offline_params(2), tmp_path / "augmented")
    offline = read_store(tmp_path / "augmented")
    check_offline(offline, store, 2)
    with pytest.raises(
        OfflineCopiesError, match=r"holds 2 augmented copies.*asks for 3.*dvc repro"
    ):
        check_offline(offline, store, 3)
    moved = tiny_store(24)
    moved.manifest["id"] = [f"y{i}" for i in range(24)]  # another split, the same row count
    with pytest.raises(OfflineCopiesError, match="augment"):
        check_offline(offline, moved, 2)


def test_offline_copies_need_augmentation_enabled():
    with pytest.raises(ValidationError, match="offline_copies: 2 needs enabled: true"):
        AugmentParams(enabled=False, offline_copies=2)


def test_zero_copies_write_an_empty_store_of_the_splits_shape(tmp_path):
    store = tiny_store(12)
    write_store(tmp_path / "split", store.manifest, store.pixels, store.classes, 16)
    write_empty(tmp_path / "augmented", tmp_path / "split")
    empty = read_store(tmp_path / "augmented")
    assert empty.pixels.shape == (0, 8, 8, 1) and empty.classes == store.classes
    assert COPY_COLUMN not in empty.manifest


def test_a_failure_mid_materialization_leaves_no_store(tmp_path, monkeypatch):
    calls = []

    def failing(images):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed mid-copy")
        return np.zeros(images.shape, dtype=np.uint8)

    monkeypatch.setattr(materialize_module, "quantize", failing)
    with pytest.raises(RuntimeError, match="killed"):
        materialize(tiny_store(24), offline_params(2), tmp_path / "augmented")
    assert not (tmp_path / "augmented").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_the_augment_stage_writes_the_copies_and_training_reads_them(reproduced_project, tmp_path):
    """With the real dvc binary, on a copy of the reproduced project."""
    project = Project(tmp_path / "offline", reproduced_project.first_repro)
    shutil.copytree(reproduced_project.root, project.root, symlinks=True)
    assert read_store(project.root / "data/augmented").pixels.shape[0] == 0  # the default
    project.set_param("train", "augment.enabled", True)
    project.set_param("train", "augment.offline_copies", 2)
    ran = project.dvc("repro", "--single-item", "augment", "train@deep_nn")
    assert ran_stages(ran.stdout) == {"augment", "train@deep_nn"}
    split = read_store(project.root / "data/split")
    offline = read_store(project.root / "data/augmented")
    assert len(offline.manifest) == 2 * len(split_rows(split, "train"))
    summary = json.loads((project.root / "data/models/deep_nn/training.json").read_text())
    assert summary["augmentation_offline_copies"] == 2
    assert summary["augmentation_backend"] == "batched"
