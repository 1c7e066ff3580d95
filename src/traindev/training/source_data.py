"""Which training rows the optimizer sees, and with what weight (`train.source_data`).

The notes' question "does data from another distribution help?" is answered by training
the same architecture three ways on the same split: on every train row (`all`), on the
target's train rows only (`target_only`), and on every row with each source row's loss
scaled by beta (`weighted`, the notes' min sum_target L + beta sum_source L). The target is
the set of domains of dev and test, as the split stage draws both from the target domain.

Weighting is a per-row loss weight, not a sampler: every source row is still seen once per
epoch with the same shuffling, so the three runs differ only in what the notes vary, the
objective. A sampler drawing source rows with probability beta would change the number of
steps per epoch and add sampling noise, and with a small beta would show each source image
rarely, not softly. The loss of a batch stays a sum over its rows divided by the batch size,
so beta = 1 is exactly `all`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional

from traindev.config import SourceDataParams
from traindev.data.batches import split_rows
from traindev.data.store import ImageStore
from traindev.training.objectives import SingleLabel

TARGET_SPLITS = ("dev", "test")


def target_domains(store: ImageStore) -> tuple[str, ...]:
    """The domains of dev and test: the distribution the model must do well on."""
    manifest = store.manifest
    domains = manifest.loc[manifest["split"].isin(TARGET_SPLITS), "domain"]
    return tuple(sorted(set(domains.astype(str).tolist())))


def is_source(store: ImageStore, rows: np.ndarray) -> np.ndarray:
    """For each of `rows`: whether it comes from a domain other than the target's."""
    targets = target_domains(store)
    if not targets:
        raise ValueError(
            "train.source_data needs dev or test rows to know the target domain; the split has none"
        )
    domains = store.manifest["domain"].astype(str).to_numpy()[rows]
    return ~np.isin(domains, targets)


def training_rows(store: ImageStore, params: SourceDataParams) -> np.ndarray:
    """Store rows of the train split the optimizer sees (`all` and `weighted`: every one)."""
    rows = split_rows(store, "train")
    if params.mode != "target_only":
        return rows
    kept = rows[~is_source(store, rows)]
    if len(kept) == 0:
        raise ValueError(
            f"train.source_data.mode is target_only but the train split holds no row of the "
            f"target domain ({', '.join(target_domains(store))}); raise split.target_to_train"
        )
    return kept


def row_weights(store: ImageStore, params: SourceDataParams) -> np.ndarray | None:
    """One loss weight per store row (source rows `weight`, the others 1); None unless
    weighted, so `all` and `target_only` train through the plain objective."""
    if params.mode != "weighted":
        return None
    source = is_source(store, np.arange(len(store.manifest)))
    return np.where(source, params.weight, 1.0).astype(np.float32)


def weighted_targets(store: ImageStore, weights: np.ndarray) -> np.ndarray:
    """(rows, 2) float32 targets, class index then loss weight, for `SourceWeighted`: the
    batches carry targets aligned with their rows, so the weight travels with its row."""
    labels = store.label_indices().astype(np.float32)
    return np.stack([labels, weights.astype(np.float32)], axis=1)


class SourceWeighted:
    """Softmax cross-entropy with a per-row weight; targets are `weighted_targets` rows.

    A mistake is a wrong arg-max, unweighted: errors stay plain error rates.
    """

    def __init__(self) -> None:
        self.plain = SingleLabel()

    def loss_sum(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        losses = functional.cross_entropy(logits.float(), targets[:, 0].long(), reduction="none")
        return (losses * targets[:, 1]).sum()

    def mistakes(
        self, logits: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.plain.mistakes(logits, targets[:, 0].long())
