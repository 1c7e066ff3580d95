"""Three arms of a source-data ablation scored on the same dev rows, with chosen errors."""

from __future__ import annotations

import numpy as np

from traindev.evaluation.source_ablation import ArmErrors

DEV = 400


def dev_ids(n: int = DEV) -> np.ndarray:
    return np.array([f"dev{i:04d}" for i in range(n)])


def arm(
    mode: str, wrong: np.ndarray, order: np.ndarray | None = None, target_train_wrong: int = 7
) -> ArmErrors:
    """An arm whose dev outcomes are `wrong` (by row); `order` shuffles how they are listed;
    `target_train_wrong` of its 700 target training rows are wrong."""
    ids = dev_ids(len(wrong))
    order = np.arange(len(wrong)) if order is None else order
    return ArmErrors(
        mode=mode,
        weight=0.1 if mode == "weighted" else None,
        experiment=f"source-arch-{mode}",
        train_rows={"all": 1700, "target_only": 700, "weighted": 1700}[mode],
        source_rows={"all": 1000, "target_only": 0, "weighted": 1000}[mode],
        dev_ids=ids[order],
        dev_wrong=wrong[order],
        target_train_wrong=np.arange(700) < target_train_wrong,
    )


def first_rows_wrong(count: int, n: int = DEV) -> np.ndarray:
    """Exactly `count` mistakes, on the first rows: arms with nested mistakes (the usual case,
    one model erring on the other's hard rows and a few more)."""
    return np.arange(n) < count


def arms(all_wrong: int, target_wrong: int, weighted_wrong: int) -> list[ArmErrors]:
    return [
        arm("all", first_rows_wrong(all_wrong)),
        arm("target_only", first_rows_wrong(target_wrong)),
        arm("weighted", first_rows_wrong(weighted_wrong)),
    ]
