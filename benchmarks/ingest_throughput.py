"""Ingest throughput of an image folder against a plain single-process PIL decode loop.

Method. The script writes `--images` PNGs (`--size` square, colour, a smooth random
gradient plus noise so they compress like photos rather than like noise or flat colour) into
a temporary `<root>/<domain>/<class>/` tree of 2 domains x 4 classes. Both contenders then
read the same files from the page cache (one untimed pass warms it):

- the loop: `np.asarray(Image.open(path).convert("RGB"))` over the file list, built
  beforehand and not timed, into a Python list: what one writes by hand;
- the ingest: `traindev.stages.ingest.run` with `source: folder`, `workers: --workers`,
  end to end: folder scan, checks, parallel decode, content hashes, the memory-mapped
  pixel store, the manifest, the duplicate and skipped reports. The previous run's store is
  deleted before the clock starts, as `dvc repro` deletes a stage's outputs before running
  it.

One untimed run of each comes first (the page cache; ingest's library imports, 0.1-0.4 s
once per process, as the loop's `import PIL` is not timed either). The two are then timed
alternately `--repeats` times; the medians are printed as images/s,
with the ratio ingest / loop (goal: at least 1.8 with 2 processes). Figures depend on
how busy the machine's cores are; run it on an otherwise idle machine.

    python benchmarks/ingest_throughput.py            # 4000 images of 64x64, 5 repeats
    python benchmarks/ingest_throughput.py --quick    # 1000 images, 1 repeat (seconds)
    python benchmarks/ingest_throughput.py --dry-run  # 24 images of 8x8, 1 repeat
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchmark_record import add_arguments, figure, open_run
from PIL import Image

import traindev  # noqa: F401  (quiet tool settings)
from traindev.config import IngestParams
from traindev.stages import ingest

GOAL = 1.8


def write_pngs(root: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """`count` PNGs spread over 2 domains x 4 classes; returns them in scan order."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    paths = []
    for index in range(count):
        folder = root / f"domain{index % 2}" / f"class{index // 2 % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        weights = rng.uniform(0, 255, size=(3, 3)).astype(np.float32)
        image = weights[0] * ramp[:, None, None] + weights[1] * ramp[None, :, None]
        image = image / 2 + rng.normal(0, 12, size=(size, size, 3)) + weights[2] * 0.1
        path = folder / f"{index:06d}.png"
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return sorted(paths)


def pil_loop(paths: list[Path]) -> float:
    start = time.perf_counter()
    images = [np.asarray(Image.open(path).convert("RGB")) for path in paths]
    elapsed = time.perf_counter() - start
    assert len(images) == len(paths)
    return elapsed


def traindev_ingest(root: Path, work: Path, size: int, workers: int) -> float:
    params = IngestParams(
        source="folder", root=str(root), image_size=(size, size), channels=3, workers=workers
    )
    # `dvc repro` deletes a stage's outputs before running it: so here, untimed (replacing a
    # 50 MB store would otherwise add its deletion to the ingest).
    shutil.rmtree(work / "ingested", ignore_errors=True)
    start = time.perf_counter()
    ingest.run(params, work / "ingested", work / "reports")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1000 images, 1 repeat")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.repeats = min(args.images, 1000), 1
    if args.dry_run:
        args.images, args.size, args.repeats = 24, 8, 1
    bench = open_run(__file__, args, argv)

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        root, work = Path(tmp) / "images", Path(tmp) / "work"
        paths = write_pngs(root, args.images, args.size)
        pil_loop(paths)  # warm the page cache
        # ... and ingest's one-time costs: its library imports (pandas, OpenCV), as the loop's
        # `import PIL` is outside its timing too.
        traindev_ingest(root, work, args.size, args.workers)
        loop_times, ingest_times = [], []
        for repeat in range(args.repeats):
            first_loop = repeat % 2 == 0  # alternate the order so noise hits both alike
            if first_loop:
                loop_times.append(pil_loop(paths))
            ingest_times.append(traindev_ingest(root, work, args.size, args.workers))
            if not first_loop:
                loop_times.append(pil_loop(paths))

    loop_rate = args.images / statistics.median(loop_times)
    ingest_rate = args.images / statistics.median(ingest_times)
    ratio = ingest_rate / loop_rate
    figures = {
        "images": args.images,
        "size": args.size,
        "workers": args.workers,
        "repeats": args.repeats,
        "cores_available": len(os.sched_getaffinity(0)),
        "pil_loop_images_per_s": round(loop_rate, 1),
        "ingest_images_per_s": round(ingest_rate, 1),
        "ratio": round(ratio, 2),
        "goal": GOAL,
    }
    print(
        f"{args.images} PNGs {args.size}x{args.size} RGB, median of {args.repeats}, "
        f"{figures['cores_available']} cores available"
    )
    print(f"  plain PIL loop, 1 process : {loop_rate:9.1f} images/s")
    print(f"  traindev ingest, {args.workers} procs : {ingest_rate:9.1f} images/s")
    print(f"  ratio ingest / loop       : {ratio:9.2f}x (goal >= {GOAL}x)")
    ingest_figure = figure(
        f"ingest, {args.workers} processes",
        ingest_rate,
        "images/s",
        baseline=loop_rate,
        baseline_name="plain PIL loop, 1 process",
        goal=f"ratio >= {GOAL}",
        goal_met=ratio >= GOAL,
    )
    bench.write([ingest_figure], figures, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
