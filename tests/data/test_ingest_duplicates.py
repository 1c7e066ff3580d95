"""Exact duplicates: reported at ingest, and kept out of two splits by the split stage."""

from __future__ import annotations

import json

import pandas as pd
from helpers.ingest_inputs import distinct_image, folder_params, make_folder, run_ingest, save

from traindev.config import SplitParams
from traindev.data.store import read_store
from traindev.stages import split


def test_duplicates_within_and_across_domains_are_counted_and_listed(tmp_path):
    root = make_folder(tmp_path / "f", {"phone": {"a": 2, "b": 2}, "web": {"a": 2, "b": 2}})
    twin = distinct_image(1000)
    save(root / "phone" / "a" / "twin.png", twin)
    save(root / "phone" / "a" / "twin_copy.bmp", twin)  # same pixels, another format
    save(root / "web" / "b" / "twin.png", twin)  # across domains, and labelled otherwise

    message = run_ingest(tmp_path, folder_params(root))

    duplicates = pd.read_csv(tmp_path / "reports" / "duplicates.csv")
    assert duplicates[["path", "first_path", "scope", "same_label"]].values.tolist() == [
        ["phone/a/twin_copy.bmp", "phone/a/twin.png", "within domain", True],
        ["web/b/twin.png", "phone/a/twin.png", "across domains", False],
    ]
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["duplicates"] == {"within_domain": 1, "across_domains": 1, "label_conflicts": 1}
    assert "2 exact duplicate(s): 1 within a domain, 1 across domains" in message
    assert len(read_store(tmp_path / "ingested").manifest) == 11  # reported, not removed


def test_an_ingested_cross_domain_duplicate_never_lands_in_two_splits(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "f", {"target": {"a": 6, "b": 6}, "source": {"a": 8, "b": 8}})
    twins = [distinct_image(2000 + i) for i in range(8)]
    for index, twin in enumerate(twins):
        label = "ab"[index % 2]
        save(root / "target" / label / f"twin{index}.png", twin)
        save(root / "source" / label / f"twin{index}.png", twin)
    run_ingest(tmp_path, folder_params(root))
    assert json.loads((tmp_path / "reports" / "summary.json").read_text())["duplicates"][
        "across_domains"
    ] == len(twins)

    monkeypatch.chdir(tmp_path)
    params = SplitParams(target_domain="target", dev=0.4, test=0.4, train_dev=0.2)
    split.split_stores(params, sources=(tmp_path / "ingested",))

    store = read_store(tmp_path / "data" / "split")
    splits_per_id = store.manifest.groupby("id")["split"].nunique()
    assert (splits_per_id == 1).all()
    dropped = pd.read_csv(tmp_path / "reports" / "split" / "duplicates_dropped.csv")
    assert len(dropped) >= 1  # the recipe did try to put a twin in two splits
    twin_ids = set(store.manifest.loc[store.manifest["meta.path"].str.contains("twin"), "id"])
    assert set(dropped["id"]) <= twin_ids
