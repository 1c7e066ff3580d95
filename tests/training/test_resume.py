"""Per-epoch training state: an exact resume, safe loading, and refusal of foreign state."""

from __future__ import annotations

import pytest
import torch
from helpers.image_stores import separable_store

from traindev.config import TrainParams
from traindev.data.batches import make_batches
from traindev.models.registry import build_model
from traindev.training.checkpoint import CheckpointError
from traindev.training.runtime import seed_everything
from traindev.training.state import fingerprint, load_state, save_state
from traindev.training.trainer import Trainer

CPU = torch.device("cpu")

PARAMS = dict(
    architectures=["deep_nn"],
    epochs=4,
    batch_size=32,
    seed=5,
    optimizer="adam",
    schedule={"name": "cosine", "warmup_epochs": 1.0},
)


def new_trainer(**overrides) -> tuple[Trainer, dict]:
    params = TrainParams(**{**PARAMS, **overrides})
    seed_everything(params.seed, params.deterministic)
    model = build_model(
        "deep_nn", {"hidden_sizes": [16], "batch_norm": False, "dropout": 0.3}, (1, 8, 8), 2
    )
    store = separable_store()
    train = make_batches(store, "train", 32, CPU, 512, shuffle=True, seed=params.seed)
    dev = make_batches(store, "dev", 64, CPU, 512)
    return Trainer(model, params, CPU), {
        "train": train,
        "monitor": {"train": dev, "train_dev": dev, "dev": dev},
    }


def test_resuming_from_an_epoch_checkpoint_ends_bit_identical(tmp_path):
    whole, data = new_trainer()
    uninterrupted = whole.fit(data["train"], data["monitor"])

    identity = fingerprint({"test": 1})
    first, data = new_trainer(epochs=4)
    saved = []
    first.fit(data["train"], data["monitor"], on_checkpoint=saved.append, fingerprint=identity)
    save_state(tmp_path / "last.pt", saved[1])  # as if killed during epoch 3

    second, data = new_trainer()
    torch.manual_seed(12345)  # the restart's RNG is wherever it happens to be
    state = load_state(tmp_path / "last.pt", identity)
    assert state is not None and state.epoch == 2
    resumed = second.fit(data["train"], data["monitor"], resume=state)

    assert resumed.resumed_from == 2
    assert [r.as_dict() | {"seconds": 0} for r in resumed.history] == [
        r.as_dict() | {"seconds": 0} for r in uninterrupted.history
    ]
    for (name, a), (_, b) in zip(
        whole.model.state_dict().items(), second.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_a_checkpoint_of_another_configuration_is_ignored_and_says_what_changed(tmp_path, capsys):
    trainer, data = new_trainer(epochs=1)
    saved = []
    old = fingerprint({"train": {"lr": 0.001}})
    trainer.fit(data["train"], data["monitor"], on_checkpoint=saved.append, fingerprint=old)
    save_state(tmp_path / "last.pt", saved[0])
    assert load_state(tmp_path / "last.pt", fingerprint({"train": {"lr": 0.01}})) is None
    assert "train.lr 0.001 -> 0.01" in capsys.readouterr().err


def test_a_corrupted_checkpoint_is_a_clear_error_naming_the_file(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=f"{path}: cannot read.*delete it"):
        load_state(path, fingerprint({}))


def test_loading_never_unpickles_arbitrary_objects(tmp_path):
    path = tmp_path / "last.pt"

    class Payload:
        def __reduce__(self):
            return (print, ("unpickled!",))

    torch.save({"format": 1, "evil": Payload()}, path)
    with pytest.raises(CheckpointError, match="cannot read"):
        load_state(path, fingerprint({}))


def test_weights_that_do_not_fit_the_model_name_the_mismatch(tmp_path):
    trainer, data = new_trainer(epochs=1)
    saved = []
    trainer.fit(data["train"], data["monitor"], on_checkpoint=saved.append)
    state = saved[0]
    state.model = {name: value[..., :1] for name, value in state.model.items()}
    other, data = new_trainer()
    with pytest.raises(RuntimeError, match="size mismatch"):
        other.fit(data["train"], data["monitor"], resume=state)
