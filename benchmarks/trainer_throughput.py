"""Training throughput of traindev's Trainer against a bare PyTorch loop, and its MFU.

Method. For each model (ResNet-18 at 32x32, CIFAR-style stem; ResNet-50 at 224x224, the
paper's stem) the script builds synthetic random images and labels, already on the device
(fixed seed, no dataset, no `dvc repro`), exactly `steps * batch` of them, so one epoch is
`steps` full batches. Two copies of one initialization are trained on them:

- the trainer: `Trainer.train_epoch` over a shuffled `TensorBatches`, whole epochs;
- the bare loop: what a practitioner writes by hand with the same settings: the same
  SGD-with-momentum configuration, autocast dtype (bf16 on CUDA, fp32 on CPU), channels_last
  inputs and weights (CUDA), a fresh random permutation per epoch, mean cross entropy and
  `zero_grad(set_to_none=True)`; a GradScaler only if the precision is fp16.

One untimed warm-up epoch each (cuDNN autotuning, allocator, torch.compile), then `repeats`
timed epochs of each, interleaved (and alternating which goes first) so that machine noise
hits both alike. CUDA is synchronized before every clock reading. Reported per model: the
median images/s of each, the ratio trainer / bare (goal: at least 0.95), and the
model-FLOPs utilization MFU = 3 * forward FLOPs per image * images/s / peak bf16 FLOP/s
(forward FLOPs from torch's flop counter, a multiply-add counting 2; training ~ 3x forward).
The peak comes from a table of known GPUs' dense bf16 figures matched on the device name,
or `--peak-tflops`; on CPU MFU is n/a unless `--peak-tflops` is given.

Run on the GPU machine (defaults: batch 256 / 64, 50 steps per epoch, 5 repeats):

    python benchmarks/trainer_throughput.py [--compile]
    python benchmarks/trainer_throughput.py --dry-run   # deep_nn_8 on CPU, 2 steps: seconds

Without a GPU the same command runs on CPU with small batches and few steps (a few minutes
on 2 cores); CPU figures are indicative only. Per-model batch sizes:
`--batch-size resnet18_32=128,resnet50_224=32` (or one number for all).
"""

from __future__ import annotations

import argparse
import copy
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch
from benchmark_record import Figure, add_arguments, figure, open_run
from torch import nn

import traindev  # noqa: F401  (quiet tool settings)
from traindev.config import TrainParams
from traindev.data.batches import TensorBatches
from traindev.models.complexity import flops_per_example
from traindev.models.registry import build_model
from traindev.training.precision import choose_precision
from traindev.training.runtime import device_description, seed_everything, select_device
from traindev.training.trainer import Trainer

GOAL = 0.95  # trainer images/s over bare-loop images/s
SEED = 0
LR = 0.01  # small enough that random labels never diverge within a benchmark


@dataclass(frozen=True)
class Case:
    """One benchmarked configuration: an architecture at an input size."""

    architecture: str
    size: int  # H = W
    model_params: dict  # e.g. small_input: the CIFAR-style stem (32x32) or the paper's (224x224)
    num_classes: int
    cuda_batch: int
    cpu_batch: int
    channels: int = 3

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)


CASES: dict[str, Case] = {
    "resnet18_32": Case("resnet18", 32, {"small_input": True}, 10, cuda_batch=256, cpu_batch=32),
    "resnet50_224": Case("resnet50", 224, {"small_input": False}, 1000, cuda_batch=64, cpu_batch=4),
    # Not in the default run: the default pipeline's tiny MLP on 8x8 digits, where every
    # microsecond of per-step overhead shows (a step is ~1 ms on CPU).
    "deep_nn_8": Case(
        "deep_nn",
        8,
        {"hidden_sizes": [256, 128], "batch_norm": True, "dropout": 0.2},
        10,
        cuda_batch=64,
        cpu_batch=64,
        channels=1,
    ),
}
DEFAULT_CASES = ("resnet18_32", "resnet50_224")

# Dense (no sparsity) bf16 tensor-core peaks, FLOP/s, from the vendors' data sheets; the
# first pattern found in the lower-cased torch.cuda.get_device_name() wins.
BF16_PEAKS: list[tuple[str, float]] = [
    (r"h100.*pcie", 756e12),
    (r"h100.*nvl", 835e12),
    (r"h100", 989e12),  # SXM, e.g. "NVIDIA H100 80GB HBM3"
    (r"h200.*nvl", 835e12),
    (r"h200", 989e12),  # SXM and GH200
    (r"a100", 312e12),
    (r"l40s", 362e12),
    (r"\bl40\b", 181e12),
    (r"\bl4\b", 121e12),
    (r"\ba10\b", 125e12),
]


@dataclass
class Result:
    model: str
    architecture: str
    input: str
    batch_size: int
    steps: int
    repeats: int
    forward_flops_per_image: int
    bare_images_per_s: float
    trainer_images_per_s: float
    ratio: float
    bare_mfu: float | None
    trainer_mfu: float | None
    bare_seconds: list[float]
    trainer_seconds: list[float]


def bf16_peak(device: torch.device, override_tflops: float | None) -> tuple[float | None, str]:
    """(peak FLOP/s or None, where it came from)."""
    if override_tflops is not None:
        return override_tflops * 1e12, "--peak-tflops"
    if device.type != "cuda":
        return None, f"unknown for {device.type}; give --peak-tflops"
    name = torch.cuda.get_device_name(device)
    peak = peak_for_name(name)
    if peak is None:
        return None, f"{name} not in the table; give --peak-tflops"
    return peak, f"table ({name})"


def peak_for_name(name: str) -> float | None:
    lowered = name.lower()
    return next((peak for pattern, peak in BF16_PEAKS if re.search(pattern, lowered)), None)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds of `fn`, with the device idle at both clock readings."""
    synchronize(device)
    started = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - started


def bare_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    dtype: torch.dtype | None,
    channels_last: bool,
) -> None:
    """The baseline: one epoch as anyone would write it by hand."""
    model.train()
    order = torch.randperm(len(y), device=x.device)
    autocast = (
        (lambda: torch.autocast(x.device.type, dtype=dtype)) if dtype is not None else nullcontext
    )
    for start in range(0, len(y), batch_size):
        index = order[start : start + batch_size]
        inputs = x[index]
        if channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with autocast():
            loss = nn.functional.cross_entropy(model(inputs), y[index])
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()


def train_params(
    case: Case, batch_size: int, precision: str, channels_last: bool, compile_: bool
) -> TrainParams:
    return TrainParams(
        architectures=[case.architecture],
        batch_size=batch_size,
        optimizer="momentum",
        lr=LR,
        l2=0.0,  # the bare loop it is compared with has no weight decay
        deterministic=False,
        precision=precision,
        channels_last=channels_last,
        compile=compile_,
        progress="never",
        seed=SEED,
    )


def measure(
    name: str,
    case: Case,
    device: torch.device,
    params: TrainParams,
    steps: int,
    repeats: int,
    peak: float | None,
) -> Result:
    """Median images/s of the bare loop and the trainer on the same data and initialization."""
    batch_size = int(params.batch_size)
    seed_everything(SEED, deterministic=False)
    model = build_model(case.architecture, case.model_params, case.input_shape, case.num_classes)
    flops = flops_per_example(model, case.input_shape)
    bare_model = copy.deepcopy(model)  # identical initial weights
    trainer = Trainer(model, params, device)

    bare_model = bare_model.to(device)
    if trainer.channels_last:
        bare_model = bare_model.to(memory_format=torch.channels_last)
    bare_optimizer = torch.optim.SGD(
        bare_model.parameters(), lr=params.lr, momentum=params.momentum, weight_decay=params.l2
    )
    dtype = trainer.precision.dtype
    bare_scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    bare_network = torch.compile(bare_model) if params.compile else bare_model

    n = steps * batch_size
    generator = torch.Generator().manual_seed(SEED)
    x = torch.rand(n, *case.input_shape, generator=generator).to(device)
    y = torch.randint(0, case.num_classes, (n,), generator=generator).to(device)
    batches = TensorBatches(x, y, batch_size, shuffle=True, seed=SEED)

    def run_bare() -> None:
        bare_epoch(
            bare_network,
            bare_optimizer,
            bare_scaler,
            x,
            y,
            batch_size,
            dtype,
            trainer.channels_last,
        )

    epoch = 0

    def run_trainer() -> None:
        nonlocal epoch
        epoch += 1
        trainer.train_epoch(batches, epoch)

    run_bare()  # warm-up, untimed: cuDNN autotuning, allocator, compilation
    run_trainer()
    bare_times, trainer_times = [], []
    for repeat in range(repeats):
        pair = [(run_bare, bare_times), (run_trainer, trainer_times)]
        for fn, times in pair if repeat % 2 == 0 else reversed(pair):
            times.append(timed(fn, device))

    bare_rate = n / statistics.median(bare_times)
    trainer_rate = n / statistics.median(trainer_times)

    def mfu(rate: float) -> float | None:
        return 3 * flops * rate / peak if peak else None

    return Result(
        model=name,
        architecture=case.architecture,
        input=f"{case.size}x{case.size}x{case.channels}",
        batch_size=batch_size,
        steps=steps,
        repeats=repeats,
        forward_flops_per_image=flops,
        bare_images_per_s=bare_rate,
        trainer_images_per_s=trainer_rate,
        ratio=trainer_rate / bare_rate,
        bare_mfu=mfu(bare_rate),
        trainer_mfu=mfu(trainer_rate),
        bare_seconds=bare_times,
        trainer_seconds=trainer_times,
    )


def parse_models(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CASES]
    if unknown or not names:
        raise ValueError(f"--models: unknown {unknown or text!r}; choose from {', '.join(CASES)}")
    return names


def parse_batch_sizes(text: str | None, models: Sequence[str], device: torch.device) -> dict:
    """`--batch-size 64` for every model, or `resnet18_32=256,resnet50_224=64`; else defaults."""
    sizes = {
        name: CASES[name].cuda_batch if device.type == "cuda" else CASES[name].cpu_batch
        for name in models
    }
    if text is None:
        return sizes
    if "=" not in text:
        return dict.fromkeys(models, _positive(text, "--batch-size"))
    for item in text.split(","):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in CASES:
            raise ValueError(
                f"--batch-size: unknown model {name!r} in {text!r}; "
                f"write MODEL=N with MODEL one of {', '.join(CASES)}"
            )
        sizes[name] = _positive(value, f"--batch-size {name}")
    return {name: sizes[name] for name in models}


def _positive(value: str, what: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{what}: expected a whole number >= 1, got {value!r}")
    return number


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parse.add_argument("--models", default=",".join(DEFAULT_CASES), help=f"of {', '.join(CASES)}")
    parse.add_argument(
        "--batch-size",
        help="N for all, or MODEL=N,... (defaults: CUDA 256 / 64, CPU 32 / 4)",
    )
    parse.add_argument("--steps", type=int, help="batches per timed epoch (CUDA 50, CPU 3)")
    parse.add_argument("--repeats", type=int, help="timed epochs of each (CUDA 5, CPU 3)")
    parse.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parse.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parse.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="channels_last on CUDA (both loops)",
    )
    parse.add_argument("--compile", action="store_true", help="torch.compile both models")
    parse.add_argument("--peak-tflops", type=float, help="peak bf16 TFLOP/s for MFU")
    add_arguments(parse)
    return parse


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def header(device: torch.device, precision: str, channels_last: bool, args, peak_note: str) -> str:
    lines = [
        f"device        {device_description(device)}",
        f"torch         {torch.__version__}",
        f"precision     {precision}",
        f"channels_last {channels_last}",
        f"compile       {args.compile}",
        f"peak bf16     {peak_note}",
    ]
    if device.type == "cpu":
        lines.append("note          CPU figures are indicative only; the goal is for the GPU")
    return "\n".join(lines)


TABLE = "{:<14}{:>12}{:>7}{:>14}{:>16}{:>8}{:>8}"


def row(result: Result) -> str:
    return TABLE.format(
        result.model,
        result.input,
        result.batch_size,
        f"{result.bare_images_per_s:,.1f}",
        f"{result.trainer_images_per_s:,.1f}",
        f"{result.ratio:.3f}",
        _percent(result.trainer_mfu),
    )


def verdict(results: Sequence[Result]) -> str:
    short = [f"{r.model} ({r.ratio:.3f})" for r in results if r.ratio < GOAL]
    if not short:
        return f"goal trainer >= {GOAL} x bare: met for every model"
    return f"goal trainer >= {GOAL} x bare: NOT met for {', '.join(short)}"


DRY_RUN = ["--models", "deep_nn_8", "--batch-size", "2", "--steps", "2", "--repeats", "2"]


def record_figures(results: Sequence[Result]) -> list[Figure]:
    out = []
    for r in results:
        out.append(
            figure(
                f"{r.model} ({r.input}, batch {r.batch_size}): trainer",
                r.trainer_images_per_s,
                "images/s",
                baseline=r.bare_images_per_s,
                baseline_name="bare PyTorch loop",
                goal=f"ratio >= {GOAL}",
                goal_met=r.ratio >= GOAL,
            )
        )
        if r.trainer_mfu is not None:
            out.append(figure(f"{r.model}: trainer MFU", r.trainer_mfu, "share of peak"))
    return out


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark; returns the report (also printed, and written as its record)."""
    args = parser().parse_args(argv)
    if args.dry_run:
        args = parser().parse_args(
            [*DRY_RUN, "--device", "cpu", *(sys.argv[1:] if argv is None else argv)]
        )
    bench = open_run(__file__, args, argv)
    try:
        models = parse_models(args.models)
        device = select_device(args.device)
        batch_sizes = parse_batch_sizes(args.batch_size, models, device)
        on_cuda = device.type == "cuda"
        steps = args.steps if args.steps is not None else (50 if on_cuda else 3)
        repeats = args.repeats if args.repeats is not None else (5 if on_cuda else 3)
        _positive(str(steps), "--steps")
        _positive(str(repeats), "--repeats")
        choose_precision(args.precision, device)  # bf16 on a GPU without it: a clear error
    except ValueError as error:
        parser().error(str(error))
    peak, peak_note = bf16_peak(device, args.peak_tflops)
    if peak is not None:
        peak_note = f"{peak / 1e12:,.0f} TFLOP/s, {peak_note}"

    precision = choose_precision(args.precision, device).name
    channels_last = args.channels_last and on_cuda  # both ResNets are convolutional
    print(header(device, precision, channels_last, args, peak_note))
    print(f"steps {steps} per timed epoch, {repeats} repeats, median images/s\n")
    print(TABLE.format("model", "input", "batch", "bare img/s", "trainer img/s", "ratio", "MFU"))
    report: dict = {
        "device": device_description(device),
        "torch": torch.__version__,
        "precision": precision,
        "channels_last": channels_last,
        "compile": args.compile,
        "peak_flops": peak,
        "peak_source": peak_note,
        "goal": GOAL,
    }
    results: list[Result] = []
    for name in models:
        case = CASES[name]
        params = train_params(
            case, batch_sizes[name], args.precision, args.channels_last, args.compile
        )
        result = measure(name, case, device, params, steps, repeats, peak)
        results.append(result)
        print(row(result), flush=True)
    print(verdict(results))
    report |= {
        "goal_met": all(r.ratio >= GOAL for r in results),
        "results": [asdict(r) for r in results],
    }
    bench.write(record_figures(results), report, args.out)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
