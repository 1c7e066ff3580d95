"""The analyze stage's optional checks on the model's own features: training labels (K-fold)
and train-dev vs dev per training domain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from traindev.data.store import ImageStore
from traindev.models.params import ARCHITECTURE_PARAMS
from traindev.models.registry import build_model
from traindev.params_file import validate_params
from traindev.stages.analyze import _mismatch, _train_label_issues

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


def test_mismatch_record_breaks_train_dev_down_by_domain_and_origin(default_params):
    """Train-dev holds real handwriting, synthesized fonts and two stray rows; the record says
    which domain is synthetic (from the manifest's origin) and skips the one too small."""
    default_params["analyze"]["mismatch"].update(folds=3, gallery_size=2)
    params = validate_params(default_params)
    rng = np.random.default_rng(1)
    domains = ["handwritten"] * 30 + ["fonts"] * 30 + ["scans"] * 2 + ["handwritten"] * 30
    splits = ["train_dev"] * 62 + ["dev"] * 30
    pixels = rng.integers(0, 17, size=(len(domains), 8, 8, 1), dtype=np.uint8)
    manifest = pd.DataFrame(
        {"id": [f"r{row:02d}" for row in range(len(domains))], "source": "t", "domain": domains,
         "label": [str(row % 3) for row in range(len(domains))],
         "origin": ["synthetic" if d == "fonts" else "real" for d in domains],
         "tags": [[] for _ in domains], "split": splits}
    )  # fmt: skip
    store = ImageStore(manifest, pixels, ["0", "1", "2"], 16)
    predictions = manifest[["id", "split", "domain", "label"]].assign(
        prediction=manifest["label"], confidence=0.9, row=np.arange(len(domains))
    )
    torch.manual_seed(0)
    model = build_model(
        "deep_nn", ARCHITECTURE_PARAMS["deep_nn"](), store.image_shape, len(store.classes)
    )
    record, gallery_rows = _mismatch(model, store, predictions, params)
    assert record["train_dev_examples"] == 62 and len(record["gallery"]) == 2
    by_domain = {entry["domain"]: entry for entry in record["by_domain"]}
    # Beside dev's gallery, each checked domain's own train-dev rows most like dev and most
    # like itself (issue 19 item 5); thumbnails are written for every row a gallery names.
    split_of = dict(zip(manifest["id"], splits, strict=True))
    domain_of = dict(zip(manifest["id"], domains, strict=True))
    for name in ("handwritten", "fonts"):
        for side in ("dev_like", "train_dev_like"):
            items = by_domain[name][side]
            assert len(items) == 2, (name, side)
            assert {(split_of[i["id"]], domain_of[i["id"]]) for i in items} == {("train_dev", name)}
        highest = [item["score"] for item in by_domain[name]["dev_like"]]
        lowest = [item["score"] for item in by_domain[name]["train_dev_like"]]
        assert highest == sorted(highest, reverse=True) and lowest == sorted(lowest)
    assert "dev_like" not in by_domain["scans"]
    named = [
        item["id"]
        for entry in record["by_domain"]
        for item in (*entry.get("dev_like", []), *entry.get("train_dev_like", []))
    ]
    named += [item["id"] for item in record["gallery"]]
    assert sorted(manifest["id"].to_numpy()[gallery_rows]) == sorted(set(named))
    assert [entry["domain"] for entry in record["by_domain"]] == ["handwritten", "scans", "fonts"]
    assert by_domain["fonts"]["synthetic"] and not by_domain["handwritten"]["synthetic"]
    assert by_domain["fonts"]["train_dev_examples"] == 30
    assert 0.0 <= by_domain["handwritten"]["auc"] <= 1.0
    assert by_domain["handwritten"]["ci_low"] <= by_domain["handwritten"]["ci_high"]
    assert by_domain["scans"]["auc"] is None and "fewer than" in by_domain["scans"]["skipped"]
    # Dev is all handwritten: that domain is the target, and the summary leads with it.
    assert by_domain["handwritten"]["target"] and not by_domain["fonts"]["target"]
    assert by_domain["fonts"]["share"] == pytest.approx(30 / 62)
    assert record["summary"].startswith("Per training domain")
    assert "handwritten (target) AUC" in record["summary"]
