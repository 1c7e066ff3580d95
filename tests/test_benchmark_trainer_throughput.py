"""benchmarks/trainer_throughput.py: its bare loop is a fair one, and its MFU arithmetic."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers.benchmark_scripts import load_benchmark

from traindev.data.batches import TensorBatches
from traindev.models.registry import build_model
from traindev.training.trainer import Trainer

bench = load_benchmark("trainer_throughput")


def test_mfu_is_three_forward_flops_per_image_at_the_measured_rate() -> None:
    """(The whole script's tiny run is its --dry-run, in tests/test_benchmarks.py.)"""
    case = bench.CASES["deep_nn_8"]
    params = bench.train_params(case, 2, "auto", False, False)
    result = bench.measure("deep_nn_8", case, torch.device("cpu"), params, 2, 2, peak=1e12)
    assert result.batch_size == 2 and result.steps == 2
    assert len(result.bare_seconds) == len(result.trainer_seconds) == 2
    assert result.ratio == pytest.approx(result.trainer_images_per_s / result.bare_images_per_s)
    expected_mfu = 3 * result.forward_flops_per_image * result.trainer_images_per_s / 1e12
    assert result.trainer_mfu == pytest.approx(expected_mfu)


def test_bare_step_matches_the_trainer_step_from_the_same_weights() -> None:
    """Same optimizer, loss and precision: two full-batch steps leave the same weights."""
    torch.manual_seed(0)
    case = bench.CASES["resnet18_32"]
    params = bench.train_params(case, 4, "auto", True, False)
    model = build_model("resnet18", {"small_input": True}, case.input_shape, case.num_classes)
    bare = copy.deepcopy(model)
    trainer = Trainer(model, params, torch.device("cpu"))
    optimizer = torch.optim.SGD(bare.parameters(), lr=params.lr, momentum=params.momentum)
    x, y = torch.rand(4, *case.input_shape), torch.randint(0, 10, (4,))

    scaler = torch.amp.GradScaler("cpu", enabled=False)
    batches = TensorBatches(x, y, 4, shuffle=True)
    for epoch in (1, 2):  # the second step is where momentum shows
        bench.bare_epoch(bare, optimizer, scaler, x, y, 4, None, False)
        trainer.train_epoch(batches, epoch)

    want = bare.state_dict()
    for name, got in trainer.model.state_dict().items():
        assert torch.allclose(got.float(), want[name].float(), atol=1e-5), name


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("NVIDIA H100 80GB HBM3", 989e12),
        ("NVIDIA H100 PCIe", 756e12),
        ("NVIDIA H200", 989e12),
        ("NVIDIA A100-SXM4-80GB", 312e12),
        ("NVIDIA A10", 125e12),
        ("NVIDIA L4", 121e12),
        ("Tesla V100-SXM2-16GB", None),
    ],
)
def test_bf16_peak_is_matched_on_the_device_name(name: str, peak: float | None) -> None:
    assert bench.peak_for_name(name) == peak


def test_per_model_batch_sizes_override_the_defaults() -> None:
    cpu = torch.device("cpu")
    models = ["resnet18_32", "resnet50_224"]
    assert bench.parse_batch_sizes("resnet50_224=2", models, cpu) == {
        "resnet18_32": 32,
        "resnet50_224": 2,
    }
    assert bench.parse_batch_sizes("16", models, cpu) == dict.fromkeys(models, 16)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--models", "resnet99"], "unknown"),
        (["--batch-size", "resnet99=3"], "unknown model 'resnet99'"),
        (["--batch-size", "resnet18_32=0"], "whole number >= 1"),
        (["--steps", "0"], "--steps"),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit):
        bench.main([*argv, "--device", "cpu"])
    assert message in capsys.readouterr().err
