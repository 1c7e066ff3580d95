"""Near-copies of dev / test images in train: a 64-bit perceptual hash and a banded search.

Exact copies (same pixels, same id) are the split's own business; this catches the
re-encoded, re-scaled or slightly shifted ones, whose train copy would let a model
see a dev image before it is measured on it.

The hash is imagehash's pHash (grey image at 32x32, 2-D DCT, the 8x8 lowest
frequencies, one bit each for "above their median"), computed for a whole chunk of
images as two small matrix products: area resize and DCT folded into one (8, H) and
one (8, W) matrix. It differs from imagehash only in the resize (area averaging, not
Lanczos), so distances agree closely but not bit for bit.

The search never compares all pairs: two hashes within d bits agree exactly on at
least one of d + 1 disjoint bands (pigeonhole), so each band is a sort plus a
searchsorted, and only hashes that share a band value get their XOR popcount taken.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

HASH_SIDE = 32  # the grey image the DCT sees
LOW = 8  # 8 x 8 low frequencies = 64 bits
_CHUNK_BYTES = 64 << 20
_PAIR_BUDGET = 4_000_000  # candidate pairs held at once
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, PIL's "L"

NEAR_DUPLICATE_COLUMNS = [
    "row", "id", "domain", "label", "split",
    "near_row", "near_id", "near_domain", "near_label", "near_split", "distance",
]  # fmt: skip


def perceptual_hashes(pixels: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """64-bit pHash (uint64) of `pixels[rows]` (uint8 NHWC, e.g. a memmap), chunk by chunk."""
    rows = np.arange(len(pixels)) if rows is None else np.asarray(rows)
    _, height, width, channels = pixels.shape
    left = _dct_rows() @ _area_resize(height)  # (8, H)
    right = (_dct_rows() @ _area_resize(width)).T  # (W, 8)
    step = max(1, _CHUNK_BYTES // (height * width * channels * 4))
    hashes = np.empty(len(rows), dtype=np.uint64)
    for start in range(0, len(rows), step):
        block = np.asarray(pixels[rows[start : start + step]], dtype=np.float32)
        grey = block @ _LUMA if channels == 3 else block[..., 0]
        low = (left @ grey @ right).reshape(len(block), LOW * LOW)
        bits = low > np.median(low, axis=1, keepdims=True)
        hashes[start : start + len(block)] = np.packbits(bits, axis=1).view(">u8").ravel()
    return hashes


def _area_resize(size: int) -> np.ndarray:
    """(32, size) matrix averaging input pixels over each output pixel's span (any ratio)."""
    edges = np.arange(HASH_SIDE + 1) * size / HASH_SIDE
    start, stop = edges[:-1, None], edges[1:, None]
    pixel = np.arange(size)[None, :]
    overlap = np.clip(np.minimum(stop, pixel + 1) - np.maximum(start, pixel), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def _dct_rows() -> np.ndarray:
    """The first 8 rows of the (unnormalized, scipy.fftpack) DCT-II matrix of size 32."""
    k = np.arange(LOW)[:, None]
    x = np.arange(HASH_SIDE)[None, :]
    return (2 * np.cos(np.pi * (2 * x + 1) * k / (2 * HASH_SIDE))).astype(np.float32)


def nearest_matches(
    hashes: np.ndarray, targets: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each position in `hashes` within `max_distance` bits of some target hash.

    Returns (positions in hashes, position of the nearest target, distance), sorted by
    position; ties go to the earliest target.
    """
    unique, inverse = np.unique(hashes, return_inverse=True)
    targets_unique, first_target = np.unique(targets, return_index=True)
    found_i, found_j, found_d = _pairs_within(unique, targets_unique, max_distance)
    # Nearest target per unique hash: by distance, then by the target's first position.
    order = np.lexsort((first_target[found_j], found_d, found_i))
    found_i, found_j, found_d = found_i[order], found_j[order], found_d[order]
    first = np.ones(len(found_i), dtype=bool)
    first[1:] = found_i[1:] != found_i[:-1]
    best_j = np.full(len(unique), -1, dtype=np.int64)
    best_d = np.zeros(len(unique), dtype=np.int64)
    best_j[found_i[first]] = found_j[first]
    best_d[found_i[first]] = found_d[first]
    positions = np.flatnonzero(best_j[inverse] >= 0)
    matched = inverse[positions]
    return positions, first_target[best_j[matched]], best_d[matched]


def _pairs_within(
    hashes: np.ndarray, targets: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, distance) for distinct hashes[i], targets[j] within max_distance bits; may repeat."""
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    bounds = np.linspace(0, 64, max_distance + 2).round().astype(int)
    for low, high in itertools.pairwise(bounds):
        mask = np.uint64((1 << int(high - low)) - 1)
        target_band = (targets >> np.uint64(low)) & mask
        order = np.argsort(target_band, kind="stable")
        sorted_band = target_band[order]
        band = (hashes >> np.uint64(low)) & mask
        left = np.searchsorted(sorted_band, band, "left")
        counts = np.searchsorted(sorted_band, band, "right") - left
        ends = np.cumsum(counts)
        start = 0
        while start < len(hashes):
            stop = max(start + 1, int(np.searchsorted(ends, ends[start] + _PAIR_BUDGET, "left")))
            stop = min(stop, len(hashes))
            block = np.arange(start, stop)
            n = counts[block]
            i = np.repeat(block, n)
            offsets = np.arange(len(i)) - np.repeat(np.cumsum(n) - n, n)
            j = order[np.repeat(left[block], n) + offsets]
            distance = np.bitwise_count(hashes[i] ^ targets[j]).astype(np.int64)
            near = distance <= max_distance
            found.append((i[near], j[near], distance[near]))
            start = stop
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return tuple(np.concatenate(part) for part in zip(*found, strict=True))  # type: ignore[return-value]


def drop_near_duplicates(
    manifest: pd.DataFrame, pixels: np.ndarray, split: pd.Series, max_distance: int
) -> tuple[pd.Series, pd.DataFrame]:
    """Take out of train every image within `max_distance` bits of a dev or test image.

    Train loses the copy, not dev or test: they are the scarce target data the decisions
    rest on, and the train copy is what would leak. Train-dev is not checked (no model
    trains on it). Returns the new split and one row per dropped image with its nearest
    dev/test image.
    """
    names = split.to_numpy()
    train_rows = np.flatnonzero(names == "train")
    eval_rows = np.flatnonzero((names == "dev") | (names == "test"))
    if not len(train_rows) or not len(eval_rows):
        return split, pd.DataFrame(columns=NEAR_DUPLICATE_COLUMNS)
    hashes = perceptual_hashes(pixels, np.r_[train_rows, eval_rows])
    where, nearest, distance = nearest_matches(
        hashes[: len(train_rows)], hashes[len(train_rows) :], max_distance
    )
    rows, near_rows = train_rows[where], eval_rows[nearest]
    frame = pd.DataFrame(
        {
            "row": rows,
            "id": manifest["id"].to_numpy()[rows],
            "domain": manifest["domain"].to_numpy()[rows],
            "label": manifest["label"].to_numpy()[rows],
            "split": "train",
            "near_row": near_rows,
            "near_id": manifest["id"].to_numpy()[near_rows],
            "near_domain": manifest["domain"].to_numpy()[near_rows],
            "near_label": manifest["label"].to_numpy()[near_rows],
            "near_split": names[near_rows],
            "distance": distance,
        },
        columns=NEAR_DUPLICATE_COLUMNS,
    )
    cleaned = split.copy()
    cleaned.iloc[rows] = None
    return cleaned, frame
