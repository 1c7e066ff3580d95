"""A few images of each training domain and of dev, for the report's side-by-side grid.

Seeing the distributions next to each other (blurred scans beside crisp renders, thin pens
beside thick fonts) is the notes' first step against data mismatch, and it should not need
a file browser. Samples are drawn by id hash (`sheet.sample_by_id`), so a re-run shows the
same images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from traindev.analysis.sheet import sample_by_id

GRID_SPLITS = ("train", "dev")


@dataclass(frozen=True)
class DomainSample:
    split: str  # "train" or "dev"
    domain: str
    examples: int  # of this split and domain in the whole store
    rows: np.ndarray  # store rows shown, sorted


def domain_samples(manifest: pd.DataFrame, size: int, seed: int) -> list[DomainSample]:
    """Per training domain, then per dev domain (sorted by name), `size` seeded store rows."""
    if size <= 0:
        return []
    samples = []
    for split in GRID_SPLITS:
        in_split = manifest["split"].to_numpy() == split
        domains = manifest["domain"].astype(str).to_numpy()
        for domain in sorted(set(domains[in_split])):
            rows = np.flatnonzero(in_split & (domains == domain))
            ids = manifest["id"].astype(str).to_numpy()[rows].tolist()
            chosen = rows[sample_by_id(ids, size, seed)]
            samples.append(DomainSample(split, domain, len(rows), np.sort(chosen)))
    return samples
