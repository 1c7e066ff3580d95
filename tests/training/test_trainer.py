"""The trainer: learns, is bit-identical on CPU from a seed, streams large splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from traindev.config import TrainParams
from traindev.data.batches import StoreBatches, TensorBatches, make_batches, split_rows
from traindev.data.store import ImageStore
from traindev.models.registry import build_model
from traindev.training.runtime import seed_everything
from traindev.training.trainer import NonFiniteLossError, Trainer

CPU = torch.device("cpu")


def separable_store(n: int = 256) -> ImageStore:
    """Two classes told apart by which half of an 8x8 image is bright."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n)
    pixels = rng.integers(0, 4, (n, 8, 8, 1)).astype(np.uint8)
    for i, label in enumerate(labels):
        pixels[i, :, 4 * label : 4 * label + 4] += 12
    manifest = pd.DataFrame(
        {
            "id": [f"x{i}" for i in range(n)],
            "source": "t",
            "domain": "t",
            "label": labels.astype(str),
            "origin": "real",
            "tags": [[] for _ in range(n)],
            "split": np.where(np.arange(n) % 4 == 0, "dev", "train"),
        }
    )
    return ImageStore(manifest, pixels, ["0", "1"], 16)


def fit(store: ImageStore, **overrides):
    params = TrainParams(architectures=["deep_nn"], epochs=3, batch_size=32, seed=3, **overrides)
    seed_everything(params.seed, params.deterministic)
    model = build_model("deep_nn", {"hidden_sizes": [16], "dropout": 0.2}, (1, 8, 8), 2)
    trainer = Trainer(model, params, CPU)
    train = make_batches(store, "train", 32, CPU, 512, shuffle=True, seed=params.seed)
    dev = make_batches(store, "dev", 64, CPU, 512)
    result = trainer.fit(train, {"train": train, "train_dev": dev, "dev": dev})
    return model, result


def test_training_learns_a_separable_problem():
    _, result = fit(separable_store(), lr=0.01)
    assert result.history[-1].dev_error < 0.05
    assert result.history[-1].loss < result.history[0].loss
    assert [record.epoch for record in result.history] == [1, 2, 3]
    assert result.examples_per_second > 0


def test_same_seed_gives_bit_identical_weights_on_cpu():
    first, _ = fit(separable_store())
    second, _ = fit(separable_store())
    for (name, a), (_, b) in zip(
        first.state_dict().items(), second.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_streamed_and_in_memory_batches_are_the_same_data():
    store = separable_store(100)
    rows = split_rows(store, "train")
    in_memory = TensorBatches.from_store(store, rows, 16, CPU)
    streamed = StoreBatches(store, rows, 16, CPU)
    for (xa, ya), (xb, yb) in zip(in_memory, streamed, strict=True):
        torch.testing.assert_close(xa, xb)
        assert torch.equal(ya, yb)
    assert isinstance(make_batches(store, "train", 16, CPU, in_memory_max_mb=0.0), StoreBatches)
    assert float(next(iter(in_memory))[0].max()) <= 1.0


def test_a_diverging_loss_stops_with_the_epoch_and_learning_rate():
    store = separable_store()
    params = TrainParams(architectures=["deep_nn"], epochs=2, lr=0.5)
    model = build_model("deep_nn", {"hidden_sizes": [16]}, (1, 8, 8), 2)
    trainer = Trainer(model, params, CPU)
    trainer.loss_fn = lambda logits, y: logits.sum() * float("inf")  # a blown-up loss
    train = make_batches(store, "train", 32, CPU, 512)
    with pytest.raises(NonFiniteLossError, match=r"epoch 1 \(lr 0.5\); lower train.lr"):
        trainer.fit(train, {"train": train, "train_dev": train, "dev": train})


@pytest.mark.gpu
def test_training_on_cuda_learns_with_bf16_autocast():
    store = separable_store()
    params = TrainParams(architectures=["deep_nn"], epochs=3, batch_size=32, lr=0.01, seed=3)
    cuda = torch.device("cuda")
    seed_everything(params.seed, params.deterministic)
    model = build_model("deep_nn", {"hidden_sizes": [16]}, (1, 8, 8), 2)
    trainer = Trainer(model, params, cuda)
    train = make_batches(store, "train", 32, cuda, 512, shuffle=True, seed=params.seed)
    dev = make_batches(store, "dev", 64, cuda, 512)
    result = trainer.fit(train, {"train": train, "train_dev": dev, "dev": dev})
    assert result.history[-1].dev_error < 0.05
    assert next(model.parameters()).device.type == "cuda"
