"""benchmarks/trainer_throughput.py: runs end to end on CPU, and its bare loop is a fair one."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from helpers.benchmark_scripts import load_benchmark

from traindev.data.batches import TensorBatches
from traindev.models.registry import build_model
from traindev.training.trainer import Trainer

bench = load_benchmark("trainer_throughput")


def test_tiny_cpu_run_prints_the_table_and_writes_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "figures" / "throughput.json"
    args = ["--models", "resnet18_32", "--batch-size", "2", "--steps", "2", "--repeats", "2"]
    report = bench.main([*args, "--device", "cpu", "--peak-tflops", "1", "--json", str(out)])

    printed = capsys.readouterr().out
    assert "torch" in printed and "precision     fp32" in printed
    assert "CPU figures are indicative only" in printed
    assert "resnet18_32" in printed and "goal trainer >= 0.95" in printed
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(report))
    (result,) = written["results"]
    assert result["batch_size"] == 2 and result["steps"] == 2
    assert len(result["bare_seconds"]) == len(result["trainer_seconds"]) == 2
    assert result["bare_images_per_s"] > 0 and result["trainer_images_per_s"] > 0
    expected_mfu = 3 * result["forward_flops_per_image"] * result["trainer_images_per_s"] / 1e12
    assert result["trainer_mfu"] == pytest.approx(expected_mfu)


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
