"""What differs: each dev error beside the training images the model sees as closest.

A dev error whose nearest training neighbours (in the model's penultimate features, the space
its output layer reads) all come from another domain is an error of data mismatch: the model
has no training image like it from its own distribution. Neighbours from the target's own
training rows that carry another label point instead at ambiguity or a labelling problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

NEIGHBOUR_FIELDS = ("id", "domain", "label")


@dataclass(frozen=True)
class Neighbours:
    """positions[i, j]: the j-th nearest pool example of query i (nearest first)."""

    positions: np.ndarray  # (queries, k) int64 into the pool
    distances: np.ndarray  # (queries, k) Euclidean, in feature space


def nearest(query: np.ndarray, pool: np.ndarray, k: int) -> Neighbours:
    """The k nearest pool rows of each query row (Euclidean; ties broken by pool order).

    k is capped at the pool's size; an empty query or k == 0 gives (n, 0) arrays.
    """
    query, pool = np.asarray(query, np.float32), np.asarray(pool, np.float32)
    if query.ndim != 2 or pool.ndim != 2 or query.shape[1] != pool.shape[1]:
        raise ValueError(f"features must be 2-D with one width, got {query.shape}, {pool.shape}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k} (analyze.errors.neighbours)")
    k = min(k, len(pool))
    if k == 0 or len(query) == 0:
        empty = np.zeros((len(query), 0))
        return Neighbours(empty.astype(np.int64), empty)
    index = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(pool)
    distances, positions = index.kneighbors(query)
    return Neighbours(positions.astype(np.int64), distances)


def neighbour_column(rank: int, field: str, prefix: str) -> str:
    """`train.neighbour1.domain`: the CSV header of one neighbour's field (rank from 1)."""
    return f"{prefix}neighbour{rank}.{field}"


def neighbour_columns(
    positions: np.ndarray, fields: dict[str, np.ndarray], k: int, prefix: str
) -> dict[str, list[str]]:
    """Per rank 1..k, one column per NEIGHBOUR_FIELDS; empty cells past the pool's size.

    `positions[i, r]` is the (r+1)-th neighbour of row i, as an index into each of
    `fields[field]` (NEIGHBOUR_FIELDS are manifest columns: id, domain, label).
    """
    positions = np.asarray(positions, dtype=np.int64)
    rows = len(positions)
    # No rows reshape to (0, 0): numpy cannot infer the width of an empty array.
    positions = positions.reshape(rows, -1) if rows else np.zeros((0, 0), np.int64)
    columns: dict[str, list[str]] = {}
    for rank in range(1, k + 1):
        for field in NEIGHBOUR_FIELDS:
            if rank <= positions.shape[1]:
                values = np.asarray(fields[field])[positions[:, rank - 1]]
                cells = [str(value) for value in values]
            else:
                cells = [""] * rows
            columns[neighbour_column(rank, field, prefix)] = cells
    return columns
