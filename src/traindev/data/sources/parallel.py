"""Decode many files over a pool of processes, in order, into a preallocated array.

Work goes out in chunks (a list of paths each); each process writes its images straight
into their rows of the preallocated, memory-mapped .npy file and sends back only content
ids and failures, so no pixels cross between processes and memory stays bounded whatever
the folder's size. Row i is always file i, which keeps the store's order a function of the
input alone.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from traindev.data.sources import plain_png
from traindev.data.sources.decode import ChunkResult, ChunkTask, DecodeSpec, decode_chunk
from traindev.data.sources.problems import BadInputError
from traindev.machine import usable_cores

MAX_CHUNK = 256
IN_PROCESS_BELOW = 64  # a pool costs more than it saves for a handful of images


@dataclass
class DecodeOutcome:
    kept: list[int] = field(default_factory=list)  # input index of each row written to `out`
    ids: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (input index, reason)


def resolve_workers(requested: int | str, count: int) -> int:
    """`auto`: the cores this process may use (at most 8); 1 for tiny inputs."""
    if requested != "auto":
        return max(1, int(requested))
    if count < IN_PROCESS_BELOW:
        return 1
    return min(8, usable_cores())


def chunk_size(count: int, workers: int) -> int:
    """About 8 chunks per worker, for balance, capped so a chunk's pixels stay small."""
    return max(1, min(MAX_CHUNK, math.ceil(count / (workers * 8))))


def show_progress() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def planned_workers(requested: int | str) -> int:
    """The processes to start before the input is counted (`auto`: the cores, at most 8)."""
    return max(1, int(requested)) if requested != "auto" else min(8, usable_cores())


@contextmanager
def decoder_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """`workers` decoding processes, started now: made before the folder scan, their start
    (a fork each) overlaps it. None for 1 (decoding runs in this process).

    On success the idle workers exit in the background while the caller writes the
    manifest (joining them cost ~10 ms); on an error or interrupt the queued chunks are
    dropped and the workers waited for.
    """
    if workers <= 1:
        yield None
        return
    plain_png.preload()
    # The platform's default start method (fork on Linux): workers need no re-import. Unlike
    # multiprocessing.Pool, the executor notices a worker that died and raises.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context())
    pool.submit(os.getpid)  # with fork, the first task starts every worker
    finished = False
    try:
        yield pool
        finished = True
    finally:
        pool.shutdown(wait=not finished, cancel_futures=not finished)


def decode_into(
    files: Sequence[str],
    spec: DecodeSpec,
    pixels: np.memmap,
    workers: int,
    pool: ProcessPoolExecutor | None = None,
) -> DecodeOutcome:
    """Decode `files[i]` into row i of `pixels`, a preallocated .npy opened with
    `open_memmap`; failures are returned. Workers write to its file, not through the map.
    `pool`: processes already started (`decoder_pool`); else they start here.

    Rows of files that failed are left as they were (zeros): the caller drops them.
    """
    if workers > 1 and pool is None:
        with decoder_pool(workers) as started:
            return decode_into(files, spec, pixels, workers, started)
    outcome = DecodeOutcome()
    with tqdm(
        total=len(files), desc="decoding", unit="img", disable=not show_progress(), leave=False
    ) as bar:
        for result in _results(files, spec, pixels, workers, pool):
            for position, content in enumerate(result.ids):
                if content is not None:
                    outcome.kept.append(result.start + position)
                    outcome.ids.append(content)
            outcome.errors.extend((result.start + pos, reason) for pos, reason in result.errors)
            bar.update(len(result.ids))
    return outcome


def _results(
    files: Sequence[str],
    spec: DecodeSpec,
    pixels: np.memmap,
    workers: int,
    pool: ProcessPoolExecutor | None,
) -> Iterator[ChunkResult]:
    size = chunk_size(len(files), workers)
    path, data_offset = str(pixels.filename), pixels.offset
    tasks = (
        ChunkTask(start, list(files[start : start + size]), spec, path, data_offset)
        for start in range(0, len(files), size)
    )
    if workers <= 1 or pool is None:
        yield from map(decode_chunk, tasks)
        return
    try:
        yield from pool.map(decode_chunk, tasks)
    except BrokenProcessPool:
        raise BadInputError(
            "ingest: a decoding process died (out of memory, or a crash in the image library); "
            "re-run with ingest.workers: 1 to see which file"
        ) from None
