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
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

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


def decode_into(
    files: Sequence[str], spec: DecodeSpec, pixels: np.memmap, workers: int
) -> DecodeOutcome:
    """Decode `files[i]` into row i of `pixels`, a preallocated .npy opened with
    `open_memmap`; failures are returned. Workers write to its file, not through the map.

    Rows of files that failed are left as they were (zeros): the caller drops them.
    """
    outcome = DecodeOutcome()
    with tqdm(
        total=len(files), desc="decoding", unit="img", disable=not show_progress(), leave=False
    ) as bar:
        for result in _results(files, spec, pixels, workers):
            for position, content in enumerate(result.ids):
                if content is not None:
                    outcome.kept.append(result.start + position)
                    outcome.ids.append(content)
            outcome.errors.extend((result.start + pos, reason) for pos, reason in result.errors)
            bar.update(len(result.ids))
    return outcome


def _results(
    files: Sequence[str], spec: DecodeSpec, pixels: np.memmap, workers: int
) -> Iterator[ChunkResult]:
    size = chunk_size(len(files), workers)
    path, data_offset = str(pixels.filename), pixels.offset
    tasks = (
        ChunkTask(start, list(files[start : start + size]), spec, path, data_offset)
        for start in range(0, len(files), size)
    )
    if workers <= 1:
        yield from map(decode_chunk, tasks)
        return
    # The platform's default start method (fork on Linux): workers need no re-import. Unlike
    # multiprocessing.Pool, the executor notices a worker that died and raises.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context())
    try:
        yield from pool.map(decode_chunk, tasks)
    except BrokenProcessPool:
        raise BadInputError(
            "ingest: a decoding process died (out of memory, or a crash in the image library); "
            "re-run with ingest.workers: 1 to see which file"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
