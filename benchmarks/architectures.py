"""Every registered architecture at its small-input configuration, on this machine.

Prints, per architecture: parameters (small and reference configuration), forward FLOPs
per example (torch's flop counter), batch-1 inference latency and training throughput
(Adam, batch 64, on 8x8x1 digits-sized input resized inside the model). With CUDA, the
latency and throughput are measured on the GPU as well.

    python benchmarks/architectures.py [--names deep_nn lenet5 ...] [--seconds 2]
    python benchmarks/architectures.py --dry-run   # deep_nn and lenet5, 0.05 s each
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from benchmark_record import Figure, add_arguments, figure, open_run
from torch import nn

import traindev  # noqa: F401  (quiet tool settings)
from traindev.evaluation.latency import latency_ms
from traindev.models.complexity import flops_per_example
from traindev.models.registry import (
    available_architectures,
    build_model,
    count_parameters,
    get_architecture,
)

DATA_SHAPE = (1, 8, 8)
CLASSES = 10


def reference_parameters(name: str) -> str:
    """Parameter count at the paper's configuration, built on the meta device (no memory).

    Only the convolutional networks have a published reference configuration; LeNet-5's is
    32x32x1 with 10 classes.
    """
    arch = get_architecture(name)
    if name == "lenet5":
        shape, classes, params = (1, 32, 32), 10, arch.params_schema()
    elif "small_input" in arch.params_schema.model_fields:
        params = arch.params_schema(small_input=False)
        shape, classes = (3, *arch.native_input(params)), 1000
    else:
        return "-"
    with torch.device("meta"):
        return f"{count_parameters(build_model(name, params, shape, classes)):,}"


def training_throughput(model: nn.Module, device: torch.device, seconds: float) -> float:
    """Examples per second of Adam steps on a fixed batch of 64, after two warm-up steps."""
    model = model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(64, *DATA_SHAPE, device=device)
    y = torch.randint(0, CLASSES, (64,), device=device)

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step()
        steps += 1
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return steps * 64 / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="*", default=available_architectures())
    parser.add_argument("--seconds", type=float, default=2.0, help="timing budget per model")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.dry_run:
        args.names, args.seconds = ["deep_nn", "lenet5"], 0.05
    bench = open_run(__file__, args, argv)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} CPU threads; input 8x8x1, batch 64")
    header = f"{'architecture':<18}{'params':>12}{'ref params':>14}{'MFLOPs':>10}"
    for device in devices:
        header += f"{device.type + ' ms':>10}{device.type + ' ex/s':>12}"
    print(header)
    figures: list[Figure] = []
    details: dict[str, dict] = {}
    for name in args.names:
        torch.manual_seed(0)
        model = build_model(name, {}, DATA_SHAPE, CLASSES)
        entry = {
            "parameters": count_parameters(model),
            "reference_parameters": reference_parameters(name),
            "forward_flops": flops_per_example(model, DATA_SHAPE),
        }
        row = (
            f"{name:<18}{entry['parameters']:>12,}{entry['reference_parameters']:>14}"
            f"{entry['forward_flops'] / 1e6:>10.2f}"
        )
        for device in devices:
            example = torch.rand(1, *DATA_SHAPE)
            latency = latency_ms(model, example, device, repeats=20)
            rate = training_throughput(model, device, args.seconds)
            entry[device.type] = {"latency_ms": latency, "train_examples_per_s": rate}
            figures.append(figure(f"{name} batch-1 latency, {device.type}", latency, "ms"))
            figures.append(figure(f"{name} training, {device.type}", rate, "examples/s"))
            row += f"{latency:>10.2f}{rate:>12,.0f}"
        details[name] = entry
        print(row, flush=True)
    bench.write(figures, {"threads": threads, "architectures": details}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
