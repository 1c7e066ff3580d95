"""Sliding windows: the convolutional implementation against cropping every window.

Method. Two window classifiers scan a batch of random 64x64x1 canvases (the default detection
canvas) at window sizes 16, 24 and 32 pixels, both ways: the naive scan crops every window
(batched through the classifier, 4,096 crops per call); the convolutional scan runs one forward
pass per window size with the FC layers as convolutions. Both include the rescaling per window
size.

- `notes`: the default, the notes' 14x14 net (CONV 5x5 16, POOL 2, FC 400, FC 400, C + 1),
  stride 2. Its FC layers hold almost all of its arithmetic, and the convolutional form still
  evaluates them once per window: only the convolution is shared, so the gain is small.
- `conv-heavy`: CONV 3x3 32, POOL, CONV 3x3 64, POOL, FC 128 at stride 4, where convolutions
  dominate and overlapping windows share most of the work (OverFeat's case).

For each it prints the forward FLOPs per image (torch's flop counter) and the best of
`--repeats` timed runs after a warm-up, the two scans taking turns so that load from other
processes falls on both (torch's intra-op threads as set, 2 here); the scores of
the two scans must agree to 1e-4, or the benchmark fails.

    python benchmarks/sliding_windows.py               # batch 32, 64x64, 5 repeats
    python benchmarks/sliding_windows.py --size 128    # a larger image
    python benchmarks/sliding_windows.py --dry-run     # batch 2, 1 repeat
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

import torch
from benchmark_record import Figure, add_arguments, figure, open_run
from torch.utils.flop_counter import FlopCounterMode

import traindev  # noqa: F401  (quiet tool settings)
from traindev.tasks.detection.models.registry import build_detector

CLASSES = 10
CLASSIFIERS: dict[str, dict] = {
    "notes": {},
    "conv-heavy": {"conv_filters": [32, 64], "kernel_size": 3, "fc_sizes": [128], "stride": 4},
}


def best_seconds(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time of each run over `repeats` rounds after a warm-up round; the runs take
    turns within a round, so a busy spell on a shared machine slows both, not one."""
    for run in runs.values():
        run()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def flops(run: Callable[[], object]) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        run()
    return counter.get_total_flops()


def measure(config: dict, images: torch.Tensor, repeats: int) -> dict:
    """Windows per image, MFLOPs and ms per image of each scan, and their largest disagreement."""
    torch.manual_seed(0)
    shape = tuple(images.shape[1:])
    detector = build_detector("sliding_windows", config, shape, CLASSES)
    scans = {}
    for implementation in ("naive", "convolutional"):
        scan = build_detector(
            "sliding_windows", config | {"implementation": implementation}, shape, CLASSES
        )
        scan.load_state_dict(detector.state_dict())
        scans[implementation] = scan.eval()
    result: dict = {}
    with torch.no_grad():
        outputs = {name: scan(images) for name, scan in scans.items()}
        seconds = best_seconds(
            {name: functools.partial(scan, images) for name, scan in scans.items()}, repeats
        )
        for name, scan in scans.items():
            result[name] = {
                "mflops_per_image": flops(functools.partial(scan, images)) / len(images) / 1e6,
                "ms_per_image": seconds[name] / len(images) * 1e3,
            }
    boxes = outputs["naive"][0]
    scores = {name: output[1] for name, output in outputs.items()}
    difference = (scores["naive"] - scores["convolutional"]).abs().max().item()
    if difference > 1e-4:
        raise AssertionError(f"the two scans disagree by {difference}")
    result["windows_per_image"] = len(boxes)
    result["max_score_difference"] = difference
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="canvases per scan")
    parser.add_argument("--size", type=int, default=64, help="canvas side in pixels")
    parser.add_argument("--repeats", type=int, default=5)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.dry_run:
        args.batch, args.repeats = 2, 1
    bench = open_run(__file__, args, argv)
    images = torch.rand(args.batch, 1, args.size, args.size)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.batch} canvases "
        f"{args.size}x{args.size}x1; window sizes 16, 24, 32"
    )
    print(
        f"{'classifier':<12}{'scan':<15}{'windows':>9}{'MFLOPs':>10}{'ms/image':>10}{'speed-up':>10}"
    )
    figures: list[Figure] = []
    details: dict = {"batch": args.batch, "size": args.size, "threads": torch.get_num_threads()}
    for name, config in CLASSIFIERS.items():
        result = details[name] = measure(config, images, args.repeats)
        naive, convolutional = result["naive"], result["convolutional"]
        speedup = naive["ms_per_image"] / convolutional["ms_per_image"]
        for scan, row in (("naive", naive), ("convolutional", convolutional)):
            gain = f"{speedup:>9.1f}x" if scan == "convolutional" else ""
            print(
                f"{name:<12}{scan:<15}{result['windows_per_image']:>9}"
                f"{row['mflops_per_image']:>10.1f}{row['ms_per_image']:>10.2f}{gain:>10}"
            )
        figures.append(figure(f"{name}: naive scan", naive["ms_per_image"], "ms/image"))
        figures.append(
            figure(
                f"{name}: convolutional scan",
                convolutional["ms_per_image"],
                "ms/image",
                baseline=naive["ms_per_image"],
                baseline_name="naive scan",
            )
        )
    bench.write(figures, details, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
