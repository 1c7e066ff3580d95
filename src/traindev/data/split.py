"""Train / train-dev / dev / test, the notes' option 2 for mismatched distributions.

Dev and test come only from the target domain (where the model must work); a
chosen part of the remaining target joins all source data in the training pool;
train-dev is carved from that pool, so it shares the training distribution and
isolates variance from data mismatch.

Assignment is a pure function of (seed, example id): each id hashes to a point in
[0, 1) and the split sizes are intervals of that line. Adding examples therefore
never moves existing ones (as long as sizes are fractions), and class
proportions are preserved in expectation within every (domain, class) stratum.
The summary reports how far each split's class mix drifts from its pool.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from traindev.config import SplitParams

SPLIT_ORDER = {"train": 0, "train_dev": 1, "dev": 2, "test": 3}
_HASH_SCALE = float(2**64)


class SplitError(ValueError):
    """A split that cannot be made as asked; the message names the param to change."""


@dataclass(frozen=True)
class SplitResult:
    split: pd.Series  # split name per manifest row; NaN for rows left out
    dropped_duplicates: (
        pd.DataFrame
    )  # rows removed because identical pixels sit in an earlier split
    unused_target: int
    resolved_fractions: dict[str, float]


def unit_hash(ids: pd.Series, seed: int, purpose: str) -> np.ndarray:
    """Map each id to a uniform number in [0, 1), stable across machines and versions."""
    prefix = f"{seed}|{purpose}|".encode()
    values = [
        int.from_bytes(hashlib.blake2b(prefix + value.encode(), digest_size=8).digest(), "big")
        for value in ids.astype(str)
    ]
    return np.asarray(values, dtype=np.float64) / _HASH_SCALE


def resolve_size(size: float, pool: int, name: str) -> float:
    """A size below 1 is a fraction; 1 or more is a count, turned into a fraction of `pool`."""
    if size < 1:
        return float(size)
    if size != int(size):
        raise SplitError(f"split.{name}: a count must be a whole number, got {size}")
    if pool == 0:
        return 1.0
    if size > pool:
        raise SplitError(f"split.{name}: asks for {int(size)} examples but the pool holds {pool}")
    return size / pool


def assign_splits(manifest: pd.DataFrame, params: SplitParams) -> SplitResult:
    """Assign every manifest row to a split (or leave it out), without leakage."""
    domains = sorted(manifest["domain"].unique())
    is_target = (manifest["domain"] == params.target_domain).to_numpy()
    n_target = int(is_target.sum())
    if n_target == 0:
        raise SplitError(
            f"split.target_domain: domain {params.target_domain!r} has no examples; "
            f"domains present: {domains}"
        )
    _check_eval_sizes(params, n_target)
    dev = resolve_size(params.dev, n_target, "dev")
    test = resolve_size(params.test, n_target, "test")

    split = np.full(len(manifest), None, dtype=object)
    u = unit_hash(manifest["id"], params.seed, "target")
    split[is_target & (u < dev)] = "dev"
    split[is_target & (u >= dev) & (u < dev + test)] = "test"
    # Rescale what is left of the target line to [0, 1) before taking target_to_train of it.
    rest = (u - dev - test) / max(1.0 - dev - test, 1e-12)
    to_train = is_target & (u >= dev + test) & (rest < params.target_to_train)
    in_pool = ~is_target | to_train
    unused_target = int((is_target & (u >= dev + test) & ~to_train).sum())

    n_pool = int(in_pool.sum())
    if n_pool == 0:
        raise SplitError(
            "the training pool is empty: add a source domain or raise split.target_to_train"
        )
    train_dev = resolve_size(params.train_dev, n_pool, "train_dev")
    v = unit_hash(manifest["id"], params.seed, "train_dev")
    split[in_pool & (v < train_dev)] = "train_dev"
    split[in_pool & (v >= train_dev)] = "train"

    assigned = pd.Series(split, index=manifest.index, name="split")
    assigned, dropped = _drop_cross_split_duplicates(manifest, assigned)
    return SplitResult(
        assigned, dropped, unused_target, {"dev": dev, "test": test, "train_dev": train_dev}
    )


def _check_eval_sizes(params: SplitParams, n_target: int) -> None:
    counts = {
        name: size if size >= 1 else size * n_target
        for name, size in (("dev", params.dev), ("test", params.test))
    }
    if counts["dev"] + counts["test"] > n_target:
        raise SplitError(
            f"split.dev + split.test ask for {counts['dev']:.0f} + {counts['test']:.0f} "
            f"examples but target domain {params.target_domain!r} holds only {n_target}; "
            "lower split.dev / split.test"
        )


def _drop_cross_split_duplicates(
    manifest: pd.DataFrame, split: pd.Series
) -> tuple[pd.Series, pd.DataFrame]:
    """Identical pixels in two splits stay in the earliest one (train < train-dev < dev < test)."""
    frame = pd.DataFrame({"id": manifest["id"], "split": split}).dropna(subset=["split"])
    order = frame["split"].map(SPLIT_ORDER)
    first = order.groupby(frame["id"]).transform("min")
    leaked = frame.index[order > first]
    kept_in = frame.loc[leaked, "id"].map(
        frame.assign(order=order)
        .sort_values("order")
        .drop_duplicates("id")
        .set_index("id")["split"]
    )
    dropped = manifest.loc[leaked, ["id", "domain", "label", "source"]].assign(
        split=split.loc[leaked], kept_in=kept_in
    )
    cleaned = split.copy()
    cleaned.loc[leaked] = None
    return cleaned, dropped.reset_index(names="row")


def split_summary(
    manifest: pd.DataFrame, result: SplitResult, target_domain: str, classes: list[str]
) -> dict:
    """Counts by split x domain x class, totals, and each split's class-mix drift from its pool."""
    frame = manifest.assign(split=result.split).dropna(subset=["split"])
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for (split, domain, label), count in frame.groupby(["split", "domain", "label"]).size().items():
        counts.setdefault(split, {}).setdefault(domain, {})[label] = int(count)
    totals = {split: int(n) for split, n in frame["split"].value_counts().items()}
    target = manifest[manifest["domain"] == target_domain]
    return {
        "counts": counts,
        "totals": totals,
        "target_domain": target_domain,
        "unused_target": result.unused_target,
        "duplicates_dropped": len(result.dropped_duplicates),
        "fractions": result.resolved_fractions,
        "class_share_drift": {
            "dev": _max_share_drift(frame[frame["split"] == "dev"], target, classes),
            "test": _max_share_drift(frame[frame["split"] == "test"], target, classes),
            "train_dev": _max_share_drift(
                frame[frame["split"] == "train_dev"],
                frame[frame["split"].isin(["train", "train_dev"])],
                classes,
            ),
        },
    }


def _max_share_drift(part: pd.DataFrame, pool: pd.DataFrame, classes: list[str]) -> float:
    """Largest absolute difference, over classes, between a split's class share and its pool's."""
    if part.empty or pool.empty:
        return 0.0
    share = part["label"].value_counts(normalize=True).reindex(classes, fill_value=0.0)
    expected = pool["label"].value_counts(normalize=True).reindex(classes, fill_value=0.0)
    return round(float((share - expected).abs().max()), 6)
