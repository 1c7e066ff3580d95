"""Manifest ingest: CSV or Parquet rows of path, label, domain, tags and extra columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.ingest_inputs import distinct_image, run_ingest, save

from traindev.config import IngestParams
from traindev.data.multilabel import multilabel_targets
from traindev.data.sources.problems import BadInputError
from traindev.data.store import read_store


def manifest_params(manifest, **overrides) -> IngestParams:
    settings = dict(
        source="manifest", manifest=str(manifest), image_size=(8, 8), channels=3, workers=1
    )
    return IngestParams(**{**settings, **overrides})


def write_images(folder, count: int) -> list[np.ndarray]:
    images = [distinct_image(seed) for seed in range(count)]
    for index, image in enumerate(images):
        save(folder / "img" / f"{index}.png", image)
    return images


def test_csv_manifest_keeps_row_order_tags_and_extra_columns(tmp_path):
    images = write_images(tmp_path, 4)
    manifest = tmp_path / "labels.csv"
    pd.DataFrame(
        {
            "path": [f"img/{i}.png" for i in (3, 0, 1, 2)],
            "label": ["cat", "dog", "cat", "dog"],
            "domain": ["phone", "phone", "web", "web"],
            "tags": ["blur;night", "", "camera=old; blur", None],
            "camera": ["a", "b", "a", None],
            "label.smile": [1, 0, None, 1],
        }
    ).to_csv(manifest, index=False)

    run_ingest(tmp_path, manifest_params(manifest))

    store = read_store(tmp_path / "ingested")
    frame = store.manifest
    np.testing.assert_array_equal(store.pixels[0], images[3])
    assert frame["meta.path"].tolist() == ["img/3.png", "img/0.png", "img/1.png", "img/2.png"]
    assert [list(tags) for tags in frame["tags"]] == [
        ["blur", "night"],
        [],
        ["camera=old", "blur"],
        [],
    ]
    assert frame["meta.camera"].tolist()[:3] == ["a", "b", "a"]
    assert frame["domain"].tolist() == ["phone", "phone", "web", "web"]
    assert set(frame["source"]) == {"manifest:labels.csv"}
    targets = multilabel_targets(
        store, ["smile"]
    )  # label.<name> keeps its name: a multi-label target
    assert targets[:, 0].tolist()[:2] == [1.0, 0.0] and np.isnan(targets[2, 0])


def test_parquet_manifest_with_list_tags_numeric_labels_and_no_domain(tmp_path):
    write_images(tmp_path / "elsewhere", 3)
    manifest = tmp_path / "m" / "rows.parquet"
    manifest.parent.mkdir()
    pd.DataFrame(
        {
            "path": ["img/0.png", "img/1.png", "img/2.png"],
            "label": [3, 7, 3],
            "tags": [["a=1"], [], ["b"]],
        }
    ).to_parquet(manifest)
    params = manifest_params(manifest, root=str(tmp_path / "elsewhere"), domain="scans")
    run_ingest(tmp_path, params)
    store = read_store(tmp_path / "ingested")
    assert store.manifest["label"].tolist() == ["3", "7", "3"]
    assert store.classes == ["3", "7"]
    assert set(store.manifest["domain"]) == {"scans"}
    assert [list(tags) for tags in store.manifest["tags"]] == [["a=1"], [], ["b"]]


def test_manifest_without_its_columns_or_of_another_type_is_rejected(tmp_path):
    manifest = tmp_path / "labels.csv"
    pd.DataFrame({"file": ["a.png"], "class": ["x"]}).to_csv(manifest, index=False)
    with pytest.raises(BadInputError, match=r"lacks column\(s\) \['path', 'label'\]"):
        run_ingest(tmp_path, manifest_params(manifest))
    other = tmp_path / "labels.txt"
    other.write_text("path,label\n")
    with pytest.raises(BadInputError, match=r"must be a \.csv or \.parquet file"):
        run_ingest(tmp_path, manifest_params(other))
    with pytest.raises(BadInputError, match="not found"):
        run_ingest(tmp_path, manifest_params(tmp_path / "absent.csv"))
    assert not (tmp_path / "ingested").exists()
