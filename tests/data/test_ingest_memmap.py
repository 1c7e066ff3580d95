"""The pixel store is memory-mapped: a DataLoader iterates a store larger than the memory the
process may allocate.

The child process's data limit (RLIMIT_DATA: private writable memory, which a read-only
file mapping does not count against) is set to what it already uses plus 96 MB, under half
of the ~200 MB store: loading the store whole must fail, streaming it must not.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd

from traindev.data.store import MANIFEST_FILE, METADATA_FILE, PIXELS_FILE
from traindev.records import write_record
from traindev.records.store import StoreMetadata

ROWS, SIDE = 16384, 64  # 16384 x 64 x 64 x 3 bytes = 201 MB
MARK_EVERY = 128


def write_big_store(path) -> None:
    """A store written the way ingest writes it (a .npy memmap), mostly sparse zeros."""
    path.mkdir()
    pixels = np.lib.format.open_memmap(
        path / PIXELS_FILE, mode="w+", dtype=np.uint8, shape=(ROWS, SIDE, SIDE, 3)
    )
    pixels[::MARK_EVERY, 0, 0, 0] = 1
    pixels.flush()
    del pixels
    pd.DataFrame(
        {
            "id": [f"row{i}" for i in range(ROWS)],
            "source": "folder:big",
            "domain": "d",
            "label": np.where(np.arange(ROWS) % 2 == 0, "a", "b"),
            "origin": "real",
            "tags": [[] for _ in range(ROWS)],
            "split": "train",
        }
    ).to_parquet(path / MANIFEST_FILE, index=False)
    metadata = StoreMetadata(classes=["a", "b"], pixel_max=255, shape=(SIDE, SIDE, 3), count=ROWS)
    write_record(path / METADATA_FILE, metadata)


CHILD = """
import json, resource, sys
import numpy as np, torch
from traindev.data.batches import StoreBatches
from traindev.data.store import read_store

torch.set_num_threads(1)
store = read_store(sys.argv[1])
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
in_use = int(status["VmData"].split()[0]) * 1024
limit = in_use + 96 * 2**20
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
try:
    np.array(store.pixels)
    whole = "loaded"
except MemoryError:
    whole = "MemoryError"
batches = StoreBatches(store, np.arange(len(store.manifest)), 256, torch.device("cpu"))
seen = marked = 0
for pixels, labels in batches.loader:  # the DataLoader itself: uint8 NHWC batches
    seen += len(labels)
    marked += int((pixels[:, 0, 0, 0] > 0).sum())
print(json.dumps({"store_mb": store.pixels.nbytes / 1e6, "limit_extra_mb": 96,
                  "whole": whole, "seen": seen, "marked": marked}))
"""


def test_dataloader_streams_a_store_larger_than_the_memory_limit(tmp_path):
    write_big_store(tmp_path / "store")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(tmp_path / "store")],
        capture_output=True,
        text=True,
        # Large blocks straight from mmap (returned on free), so heap growth cannot fake a leak.
        env={
            "MALLOC_ARENA_MAX": "2",
            "MALLOC_MMAP_THRESHOLD_": str(2**20),
            "OMP_NUM_THREADS": "1",
            "PATH": "/usr/bin:/bin",
        },
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["store_mb"] > 2 * figures["limit_extra_mb"]
    assert figures["whole"] == "MemoryError"  # the limit binds: the store cannot be loaded
    assert figures["seen"] == ROWS and figures["marked"] == ROWS // MARK_EVERY
