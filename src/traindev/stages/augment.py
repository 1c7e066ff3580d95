"""`traindev augment`: offline augmented copies of the train split (train.augment.offline_copies).

With 0 copies (the default; augmentation, when enabled, runs on the fly in the train stage)
it writes an empty store without importing torch, so the DVC graph is the same either way and
the stage costs a second.
"""

from __future__ import annotations

from traindev import paths
from traindev.config import TrainParams


def run(params: TrainParams) -> str:
    copies = params.augment.offline_copies
    if copies == 0:
        from traindev.data.offline_store import write_empty

        write_empty(paths.AUGMENTED, paths.SPLIT)
        return (
            f"train.augment.offline_copies is 0: {paths.AUGMENTED} is empty (augmentation, "
            "when enabled, runs on the fly)"
        )
    from traindev.data.materialize import materialize
    from traindev.data.store import read_store

    made = materialize(read_store(paths.SPLIT), params, paths.AUGMENTED)
    rate = made.copies * made.images / max(made.seconds, 1e-9)
    return (
        f"wrote {made.copies} augmented copies of {made.images} training images into "
        f"{paths.AUGMENTED} ({made.backend}, {rate:,.0f} images/s)"
    )
