"""Scored sets with a controlled mix of domains: exact error rates per (split, domain)."""

from __future__ import annotations

import numpy as np

from traindev.config import DiagnosisParams
from traindev.evaluation.bootstrap import row_counts, table_intervals
from traindev.evaluation.diagnosis import BiasVarianceTable, Diagnosis, diagnose
from traindev.evaluation.domains import DomainDiagnosis, diagnose_domains

SPLITS = ("train", "train_dev", "dev", "test")
HUMAN = 0.01
Cells = dict[tuple[str, str], tuple[float, int]]


def scored(cells: Cells) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(wrong, split, domain) from {(split, domain): (error rate, examples)}."""
    wrong, split, domain = [], [], []
    for (name, where), (rate, n) in cells.items():
        wrong.append(np.arange(n) < round(rate * n))
        split += [name] * n
        domain += [where] * n
    return np.concatenate(wrong), np.array(split), np.array(domain)


def option_two(
    source: tuple[float, float], target: tuple[float, float], dev: float, n: int = 4000
) -> Cells:
    """Source and target both in train and train-dev (60% source); dev and test target only.
    `source` and `target` are (train error, train-dev error)."""
    return {
        ("train", "source"): (source[0], 3 * n // 2),
        ("train", "target"): (target[0], n),
        ("train_dev", "source"): (source[1], 3 * n // 2),
        ("train_dev", "target"): (target[1], n),
        ("dev", "target"): (dev, 2 * n),
        ("test", "target"): (dev, 2 * n),
    }


def pooled_and_domains(
    cells: Cells, params: DiagnosisParams | None = None
) -> tuple[BiasVarianceTable, Diagnosis, DomainDiagnosis | None]:
    """The pooled table, its diagnosis and the per-domain one, as the evaluate stage makes them."""
    params = params or DiagnosisParams(bootstrap_replicates=1000)
    wrong, split, domain = scored(cells)
    table = BiasVarianceTable(HUMAN, *(wrong[split == name].mean() for name in SPLITS))
    intervals = table_intervals(
        {name: wrong[split == name] for name in SPLITS}, HUMAN, 1000, 0.95, seed=0
    )
    pooled = diagnose(table, params, intervals, row_counts(split))
    return table, pooled, diagnose_domains(wrong, split, domain, HUMAN, pooled, params)
