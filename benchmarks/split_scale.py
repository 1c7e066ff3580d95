"""Split a million-row manifest: seconds and peak memory against the goal (< 10 s, < 1 GB).

Method. A child process (so its peak memory is its own) builds a synthetic manifest of
`--rows` rows: 10% target domain `phone`, 60% `web`, 30% `fonts`; ids of 16 hex
digits like the content hashes ingest writes; 10 classes with unequal shares (1% to
19%). It then times, with the split the notes suggest for a million examples
(dev and test 10,000 target examples each, about 1% of the whole), a `web` cap of
500,000, half of `fonts` and a train-dev of 10,000:

- `assign_splits`: hashing every id (BLAKE2b), the stratified quotas and ranks, the
  cross-split exact-duplicate check;
- `split_summary`: the counts by split x domain x class;
- `split_confidence`.

It prints the seconds and the child's maximum resident set (getrusage: interpreter,
pandas and the manifest included, so an upper bound on what the split needs) against
the goal, and the resident set just before the split for comparison. With
`--near-duplicates` it also times the perceptual hash and the banded search on `--rows`
random 8x8 grey images, 2% of them playing dev/test. Pixels are not otherwise part of
this benchmark.

    python benchmarks/split_scale.py                   # 1,000,000 rows (about 15 s)
    python benchmarks/split_scale.py --quick           # 100,000 rows
    python benchmarks/split_scale.py --rows 2000000 --near-duplicates
    python benchmarks/split_scale.py --dry-run         # 3,000 rows with the pHash check
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from benchmark_record import Figure, add_arguments, figure, open_run

GOAL_SECONDS = 10.0
GOAL_MB = 1024.0
CLASS_SHARES = np.array([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]) / 100


def synthetic_manifest(rows: int, seed: int = 0) -> pd.DataFrame:
    """Distinct hex ids, three domains, ten unequal classes."""
    rng = np.random.default_rng(seed)
    ids = pd.Series(rng.permutation(np.arange(rows, dtype=np.uint64) * np.uint64(2654435761)))
    domains = np.array(["phone", "web", "fonts"])[
        rng.choice(3, size=rows, p=[0.1, 0.6, 0.3])
    ]  # fmt: skip
    labels = rng.choice(10, size=rows, p=CLASS_SHARES).astype(str)
    return pd.DataFrame(
        {
            "id": ids.map("{:016x}".format).astype(str),
            "source": domains,
            "domain": domains,
            "label": labels,
        }
    )


def measure(rows: int, near_duplicates: bool = False) -> dict:
    """Build the manifest (untimed), then time and trace the split of it."""
    from traindev.config import SplitParams
    from traindev.data.split import assign_splits, split_summary
    from traindev.data.split_confidence import split_confidence

    manifest = synthetic_manifest(rows)
    eval_size = max(1, rows // 100)
    params = SplitParams(
        target_domain="phone",
        dev=eval_size,
        test=eval_size,
        train_dev=eval_size,
        sources={"web": {"cap": rows // 2}, "fonts": {"fraction": 0.5}},
    )
    rss_before = _current_rss_mb()
    started = time.perf_counter()
    result = assign_splits(manifest, params)
    assigned = time.perf_counter()
    summary = split_summary(manifest, result, "phone", [str(c) for c in range(10)])
    split_confidence(summary["totals"]["dev"], summary["totals"]["test"], 0.03, 0.01)
    finished = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "rows": rows,
        "assign_s": round(assigned - started, 3),
        "summary_s": round(finished - assigned, 3),
        "split_s": round(finished - started, 3),
        "rss_before_split_mb": round(rss_before, 1),
        "max_rss_mb": round(peak, 1),
        "totals": summary["totals"],
    }
    if near_duplicates:
        figures.update(_near_duplicate_figures(rows))
    return figures


def _current_rss_mb() -> float:
    """Resident set now (Linux /proc), to tell the manifest's share of the peak."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _near_duplicate_figures(rows: int) -> dict:
    from traindev.data.near_duplicates import nearest_matches, perceptual_hashes

    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 17, size=(rows, 8, 8, 1), dtype=np.uint8)
    started = time.perf_counter()
    hashes = perceptual_hashes(pixels)
    hashed = time.perf_counter()
    evaluation = rng.random(rows) < 0.02
    found = nearest_matches(hashes[~evaluation], hashes[evaluation], max_distance=4)[0]
    searched = time.perf_counter()
    return {
        "phash_s": round(hashed - started, 3),
        "near_search_s": round(searched - hashed, 3),
        "near_found": len(found),
        "near_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 rows")
    parser.add_argument("--near-duplicates", action="store_true", help="also time the pHash check")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    add_arguments(parser)
    args = parser.parse_args(argv)
    rows = 100_000 if args.quick else args.rows
    if args.dry_run:
        rows, args.near_duplicates = 3000, True
    if args.child:
        print(json.dumps(measure(rows, args.near_duplicates)))
        return 0
    bench = open_run(__file__, args, argv)
    command = [sys.executable, __file__, "--child", "--rows", str(rows)]
    if args.near_duplicates:
        command.append("--near-duplicates")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    report(figures)
    bench.write(record_figures(figures), figures, args.out)
    return 0


def record_figures(figures: dict) -> list[Figure]:
    seconds, rss = figures["split_s"], figures["max_rss_mb"]
    out = [
        figure(
            f"split of {figures['rows']:,} rows",
            seconds,
            "s",
            goal=f"< {GOAL_SECONDS:.0f} s",
            goal_met=seconds < GOAL_SECONDS,
        ),
        figure(
            "peak resident memory, whole process",
            rss,
            "MB",
            goal=f"< {GOAL_MB:.0f} MB",
            goal_met=rss < GOAL_MB,
        ),
    ]
    if "phash_s" in figures:
        out.append(figure(f"pHash of {figures['rows']:,} 8x8 images", figures["phash_s"], "s"))
        out.append(figure("banded near-duplicate search (d = 4)", figures["near_search_s"], "s"))
    return out


def report(figures: dict) -> None:
    seconds, rss = figures["split_s"], figures["max_rss_mb"]
    print(f"split of {figures['rows']:,} manifest rows: {figures['totals']}")
    print(
        f"  time   {seconds:.2f} s (assign {figures['assign_s']:.2f} s, summary "
        f"{figures['summary_s']:.2f} s); goal < {GOAL_SECONDS:.0f} s: "
        f"{'met' if seconds < GOAL_SECONDS else 'MISSED'}"
    )
    print(
        f"  memory {rss:.0f} MB max resident, whole process ({figures['rss_before_split_mb']:.0f}"
        f" MB before the split); goal < {GOAL_MB:.0f} MB: "
        f"{'met' if rss < GOAL_MB else 'MISSED'}"
    )
    if "phash_s" in figures:
        print(
            f"  near-duplicates: pHash of {figures['rows']:,} 8x8 images "
            f"{figures['phash_s']:.2f} s,"
            f" banded search (d = 4) {figures['near_search_s']:.2f} s, "
            f"{figures['near_found']:,} train images within 4 bits of a dev/test one; "
            f"{figures['near_max_rss_mb']:.0f} MB max resident"
        )


if __name__ == "__main__":
    sys.exit(main())
