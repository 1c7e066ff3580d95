"""`traindev canvases`: detection's canvas store, or an empty one for any other task; the split
reads it for detection and carries each canvas's boxes and mask with its row."""

from __future__ import annotations

import numpy as np
import pandas as pd
from helpers.digit_stores import real_digits, synthetic_digits

from traindev import paths
from traindev.config import CanvasParams, Params
from traindev.data.store import read_store, write_store
from traindev.stages import canvases as stage
from traindev.stages import check_split, split
from traindev.tasks.detection.box_table import read_boxes
from traindev.tasks.detection.canvases import read_masks

SMALL = CanvasParams(
    size=(32, 40), objects=(1, 3), digit_size=(8, 16), clutter=(0, 2), real_count=12,
    synthetic_count=8,
)  # fmt: skip


def write_digit_stores(root) -> None:
    for store, target in ((real_digits(), paths.INGESTED), (synthetic_digits(), paths.SYNTHESIZED)):
        write_store(root / target, store.manifest, store.pixels, store.classes, store.pixel_max)


def test_classification_writes_an_empty_canvas_store_without_reading_the_digits(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no digit stores here: the empty store must not need them
    message = stage.run(Params(canvases=SMALL))
    store = read_store(paths.CANVASES)
    assert "empty" in message
    assert len(store.manifest) == 0 and store.pixels.shape == (0, 32, 40, 1)
    assert len(read_boxes(paths.CANVASES / paths.BOXES_FILE)) == 0
    assert read_masks(paths.CANVASES).shape == (0, 32, 40)


def test_detection_builds_the_canvases_from_both_digit_stores(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_digit_stores(tmp_path)
    stage.run(Params(task="detection", canvases=SMALL))
    store = read_store(paths.CANVASES)
    assert store.manifest["domain"].value_counts().to_dict() == {"handwritten": 12, "synthetic": 8}
    boxes = read_boxes(paths.CANVASES / paths.BOXES_FILE)
    assert set(boxes["id"]) == set(store.manifest["id"])
    assert read_masks(paths.CANVASES).shape == (20, 32, 40)


def test_detection_split_carries_each_canvas_boxes_and_mask_with_its_row(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_digit_stores(tmp_path)
    params = Params(task="detection", canvases=SMALL)
    stage.run(params)
    check_split.run(params)
    split.run(params)
    canvases, store = read_store(paths.CANVASES), read_store(paths.SPLIT)
    assert set(store.manifest["split"]) >= {"train", "dev", "test"}
    source_row = {row_id: n for n, row_id in enumerate(canvases.manifest["id"])}
    rows = [source_row[row_id] for row_id in store.manifest["id"]]
    assert rows != sorted(rows)  # grouped by split: the rows really moved
    assert np.array_equal(read_masks(paths.SPLIT), read_masks(paths.CANVASES)[rows])
    assert np.array_equal(store.pixels, canvases.pixels[rows])
    boxes = read_boxes(paths.SPLIT / paths.BOXES_FILE)
    source = read_boxes(paths.CANVASES / paths.BOXES_FILE)
    assert boxes["id"].drop_duplicates().tolist() == [
        row_id for row_id in store.manifest["id"] if row_id in set(source["id"])
    ]
    key = ["id", "object"]
    pd.testing.assert_frame_equal(
        boxes.sort_values(key).reset_index(drop=True),
        source[source["id"].isin(store.manifest["id"])].sort_values(key).reset_index(drop=True),
    )


def test_classification_split_reads_the_digit_stores_not_the_canvases(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_digit_stores(tmp_path)
    params = Params(canvases=SMALL)
    stage.run(params)
    split.run(params)
    assert len(read_store(paths.SPLIT).manifest) == 200
    assert not (paths.SPLIT / paths.BOXES_FILE).exists()
