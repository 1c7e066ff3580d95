"""The trainer: learns, is bit-identical on CPU from a seed, streams large splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.image_stores import separable_store

from traindev.config import TrainParams
from traindev.data.batches import StoreBatches, TensorBatches, make_batches, split_rows
from traindev.data.store import ImageStore
from traindev.models.registry import build_model
from traindev.training.objectives import MultiLabel, SingleLabel
from traindev.training.runtime import seed_everything
from traindev.training.trainer import NonFiniteLossError, Trainer

CPU = torch.device("cpu")


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


class BlowsUpAtStep(SingleLabel):
    """A loss that turns inf at one step: what a too-large learning rate does eventually."""

    def __init__(self, step: int) -> None:
        self.calls, self.step = 0, step

    def loss_sum(self, logits, targets):
        self.calls += 1
        loss = super().loss_sum(logits, targets)
        return loss * float("inf") if self.calls >= self.step else loss


def test_a_diverging_loss_stops_naming_the_epoch_step_and_learning_rate():
    store = separable_store()
    params = TrainParams(architectures=["deep_nn"], epochs=2, lr=0.5)
    model = build_model("deep_nn", {"hidden_sizes": [16]}, (1, 8, 8), 2)
    trainer = Trainer(model, params, CPU, objective=BlowsUpAtStep(3))
    train = make_batches(store, "train", 32, CPU, 512)
    saved = []
    with pytest.raises(
        NonFiniteLossError, match=r"epoch 1 at step 3 \(lr 0.5\); no epoch finished; lower"
    ):
        trainer.fit(
            train, {"train": train, "train_dev": train, "dev": train}, on_checkpoint=saved.append
        )
    assert saved == []  # nothing non-finite is ever checkpointed


def test_divergence_in_a_later_epoch_keeps_the_last_good_checkpoint():
    store = separable_store()
    params = TrainParams(architectures=["deep_nn"], epochs=3, lr=0.5)
    model = build_model("deep_nn", {"hidden_sizes": [16]}, (1, 8, 8), 2)
    train = make_batches(store, "train", 32, CPU, 512)
    steps = train.num_batches
    trainer = Trainer(model, params, CPU, objective=BlowsUpAtStep(steps + 2))
    saved = []
    with pytest.raises(NonFiniteLossError, match=r"epoch 2 at step 2 .*last good epoch is kept"):
        trainer.fit(
            train, {"train": train, "train_dev": train, "dev": train}, on_checkpoint=saved.append
        )
    assert [state.epoch for state in saved] == [1]
    assert all(torch.isfinite(value).all() for value in saved[0].model.values())


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


def test_early_stopping_stops_after_patience_and_keeps_the_best_dev_weights():
    store = separable_store()
    params = TrainParams(
        architectures=["deep_nn"],
        epochs=30,
        lr=0.05,
        early_stopping={"enabled": True, "patience": 2},
    )
    model = build_model("deep_nn", {"hidden_sizes": [16]}, (1, 8, 8), 2)
    trainer = Trainer(model, params, CPU)
    train = make_batches(store, "train", 32, CPU, 512, shuffle=True)
    dev = make_batches(store, "dev", 64, CPU, 512)
    result = trainer.fit(train, {"train": train, "train_dev": dev, "dev": dev})
    errors = [record.dev_error for record in result.history]
    best = min(range(len(errors)), key=errors.__getitem__) + 1
    assert result.stopped_early_at == len(errors) < 30
    assert result.stopped_early_at - best == 2  # two epochs without improvement
    assert result.restored_epoch == best
    assert trainer.error(dev) == errors[best - 1]


def test_early_stopping_is_off_by_default():
    _, result = fit(separable_store())
    assert result.stopped_early_at is None and len(result.history) == 3


def test_gradient_clipping_bounds_the_update():
    store = separable_store()
    deltas = {}
    for clip in (None, 1e-3):
        params = TrainParams(
            architectures=["deep_nn"],
            epochs=1,
            optimizer="sgd",
            lr=1.0,
            l2=0.0,  # the update is the clipped gradient alone
            clip_grad_norm=clip,
        )
        torch.manual_seed(0)
        plain = {"hidden_sizes": [16], "batch_norm": False, "dropout": 0.0}
        model = build_model("deep_nn", plain, (1, 8, 8), 2)
        before = torch.nn.utils.parameters_to_vector(model.parameters()).clone()
        one_batch = make_batches(store, "train", 256, CPU, 512)
        Trainer(model, params, CPU).train_epoch(one_batch, 1)
        after = torch.nn.utils.parameters_to_vector(model.parameters())
        deltas[clip] = float((after - before).detach().norm())
    assert deltas[1e-3] == pytest.approx(1e-3, rel=1e-3)  # lr 1 x gradient of norm 1e-3
    assert deltas[None] > 10 * deltas[1e-3]


def test_batch_size_full_is_batch_gradient_descent_and_zero_is_refused():
    assert TrainParams(architectures=["deep_nn"], batch_size="full").batch_size == "full"
    with pytest.raises(ValueError, match="'full'"):
        TrainParams(architectures=["deep_nn"], batch_size=0)


def test_the_progress_bar_is_silent_in_ci_and_off_a_terminal(monkeypatch):
    from traindev.training.progress import progress_enabled

    monkeypatch.setenv("CI", "true")
    assert not progress_enabled("auto")
    assert progress_enabled("always") and not progress_enabled("always", is_main=False)
    monkeypatch.delenv("CI")
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert not progress_enabled("auto")


def test_keep_prob_is_the_notes_name_for_one_minus_dropout():
    from traindev.models.params import ARCHITECTURE_PARAMS

    assert ARCHITECTURE_PARAMS["deep_nn"](keep_prob=0.8).dropout == pytest.approx(0.2)
    with pytest.raises(ValueError, match="not both"):
        ARCHITECTURE_PARAMS["deep_nn"](keep_prob=0.8, dropout=0.1)


def test_precision_is_fp32_on_cpu_unless_asked_and_fp16_scales_the_loss():
    from traindev.training.precision import choose_precision

    assert choose_precision("auto", CPU).dtype is None
    assert choose_precision("bf16", CPU).dtype == torch.bfloat16
    assert choose_precision("fp16", CPU).needs_loss_scaling
    assert not choose_precision("auto", CPU).grad_scaler().is_enabled()


def test_multi_label_training_learns_each_task_with_labels_missing():
    store = separable_store()
    labels = store.label_indices()
    rng = np.random.default_rng(0)
    targets = np.stack([labels, 1 - labels], axis=1).astype(np.float32)
    targets[rng.random(targets.shape) < 0.3] = np.nan  # 30% of the labels are absent
    params = TrainParams(architectures=["deep_nn"], epochs=4, lr=0.01, multilabel=["a", "b"])
    model = build_model("deep_nn", {"hidden_sizes": [16]}, (1, 8, 8), 2)
    trainer = Trainer(model, params, CPU, objective=MultiLabel())
    rows = split_rows(store, "train")
    dev_rows = split_rows(store, "dev")
    train = make_batches(store, "", 32, CPU, 512, shuffle=True, rows=rows, targets=targets[rows])
    dev = make_batches(store, "", 64, CPU, 512, rows=dev_rows, targets=targets[dev_rows])
    result = trainer.fit(train, {"train": train, "train_dev": dev, "dev": dev})
    assert result.history[-1].dev_error < 0.05
    assert np.isfinite(result.history[-1].loss)


@pytest.mark.gpu
def test_a_convolutional_model_on_cuda_trains_channels_last_in_mixed_precision():
    store = separable_store()
    cuda = torch.device("cuda")
    for precision in ("auto", "fp16"):
        params = TrainParams(
            architectures=["lenet5"], epochs=3, lr=0.01, precision=precision, deterministic=False
        )
        model = build_model("lenet5", {}, (1, 8, 8), 2)
        trainer = Trainer(model, params, cuda)
        assert trainer.channels_last
        assert trainer.scaler.is_enabled() == (trainer.precision.name == "fp16")
        train = make_batches(store, "train", 32, cuda, 512, shuffle=True)
        dev = make_batches(store, "dev", 64, cuda, 512)
        result = trainer.fit(train, {"train": train, "train_dev": dev, "dev": dev})
        assert result.history[-1].dev_error < 0.1, precision


def test_the_progress_bar_shows_images_per_second_and_loss_when_asked(capsys, monkeypatch):
    monkeypatch.setattr("traindev.training.progress.REFRESH_SECONDS", 0.0)
    store = separable_store()
    params = TrainParams(architectures=["deep_nn"], epochs=1, progress="always")
    model = build_model("deep_nn", {"hidden_sizes": [16]}, (1, 8, 8), 2)
    train = make_batches(store, "train", 32, CPU, 512)
    Trainer(model, params, CPU).fit(train, {"train": train, "train_dev": train, "dev": train})
    shown = capsys.readouterr().err
    assert "epoch 1/1" in shown and "img/s" in shown and "loss=" in shown


def test_fit_prints_one_line_per_epoch_to_stderr_unless_progress_is_never(capsys):
    fit(separable_store(), lr=0.01)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == ""
    assert [line.split("] ")[1].split(":")[0] for line in lines] == [
        "epoch 1/3",
        "epoch 2/3",
        "epoch 3/3",
    ]
    assert all(line.startswith("[train ") and "train-dev" in line for line in lines)
    fit(separable_store(), lr=0.01, progress="never")
    assert capsys.readouterr().err == ""
