"""The analyze stage's optional K-fold check of training labels, on the model's own features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from traindev.config import validate_params
from traindev.data.store import ImageStore
from traindev.models.params import ARCHITECTURE_PARAMS
from traindev.models.registry import build_model
from traindev.stages.analyze import _train_label_issues

FLIPPED = (5, 47, 90, 131)


def separable_store(per_class: int = 45) -> ImageStore:
    """Class c lights up column band c, so any reasonable features separate the classes."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), per_class)
    pixels = rng.integers(0, 2, size=(len(labels), 8, 8, 1), dtype=np.uint8)
    for row, label in enumerate(labels):
        pixels[row, :, 2 * label : 2 * label + 3, 0] = 16
    given = labels.astype(str).astype(object)
    for row in FLIPPED:
        given[row] = str((labels[row] + 1) % 3)
    manifest = pd.DataFrame(
        {"id": [f"ex{row:03d}" for row in range(len(labels))], "source": "t", "domain": "t",
         "label": given, "origin": "real", "tags": [[] for _ in labels], "split": "train"}
    )  # fmt: skip
    return ImageStore(manifest, pixels, ["0", "1", "2"], 16)


def test_train_label_check_ranks_planted_flips_first(default_params):
    default_params["analyze"]["label_issues"]["train_folds"] = 3
    params = validate_params(default_params)
    store = separable_store()
    torch.manual_seed(0)
    model = build_model(
        "deep_nn", ARCHITECTURE_PARAMS["deep_nn"](), store.image_shape, len(store.classes)
    )
    record, thumbnail_rows = _train_label_issues(model, store, params)
    assert record["checked"] == len(store.manifest) and record["folds"] == 3
    flipped_ids = {f"ex{row:03d}" for row in FLIPPED}
    top = record["top"][: len(FLIPPED)]
    assert {row["id"] for row in top} == flipped_ids
    for row in top:
        assert row["split"] == "train" and row["thumbnail"] == f"thumbnails/{row['id']}.png"
        assert row["label"] != row["suggested"] and row["label"] in store.classes
    # The rows whose thumbnails the stage writes are the suspects, in the same order.
    ids = store.manifest["id"].to_numpy()
    assert [ids[row] for row in thumbnail_rows] == [row["id"] for row in record["top"]]
