"""Detection's embedded canvases: boxes and masks known by construction, the params obeyed,
tags for error analysis, deterministic from the seed, and no source digit in two splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.digit_stores import real_digits, synthetic_digits
from pydantic import ValidationError

from traindev.config import CanvasParams, SplitParams
from traindev.data.split import assign_splits
from traindev.data.store import read_store, write_store
from traindev.paths import BOXES_FILE
from traindev.tasks.detection.box_table import read_boxes, targets_per_image, validate_boxes
from traindev.tasks.detection.canvases import (
    build_canvas_store,
    build_canvases,
    read_masks,
    write_canvases,
)

SMALL = CanvasParams(size=(32, 40), objects=(1, 3), digit_size=(8, 16), clutter=(0, 2))


def canvases(params: CanvasParams = SMALL, real: int = 40, synthetic: int = 30):
    return build_canvases([(real_digits(), real), (synthetic_digits(), synthetic)], params)


def mask_box(mask: np.ndarray) -> list[float]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]


def test_canvases_follow_the_params_and_the_box_contract():
    made = canvases()
    assert made.pixels.shape == (70, 32, 40, 1) and made.masks.shape == (70, 32, 40)
    assert made.manifest["domain"].value_counts().to_dict() == {"handwritten": 40, "synthetic": 30}
    assert set(made.manifest["origin"]) == {"real", "synthetic"}
    assert made.manifest["id"].is_unique
    validate_boxes(made.boxes, made.manifest["id"], made.classes, SMALL.size)
    objects = made.boxes.groupby("id").size().reindex(made.manifest["id"]).to_numpy()
    assert objects.min() >= 1 and objects.max() <= 3
    sides = made.boxes[["x_max", "x_min"]].diff(axis=1).abs().iloc[:, 1]
    assert sides.max() <= 16
    assert made.pixels.max() <= made.pixel_max


def test_each_box_is_the_extent_of_its_digits_mask_when_digits_do_not_overlap():
    params = SMALL.model_copy(update={"max_overlap": 0.0, "clutter": (2, 2)})
    made = canvases(params)
    targets = targets_per_image(made.boxes, made.manifest["id"], made.classes)
    for mask, pixels, (boxes, _) in zip(made.masks, made.pixels, targets, strict=True):
        assert mask.max() == len(boxes)
        for k, box in enumerate(boxes):
            assert mask_box(mask == k + 1) == box.tolist()
            assert (pixels[..., 0][mask == k + 1] > 0).all()


def test_no_two_boxes_overlap_beyond_max_overlap():
    made = canvases(SMALL.model_copy(update={"max_overlap": 0.1, "objects": (4, 4)}))
    for boxes, _ in targets_per_image(made.boxes, made.manifest["id"], made.classes):
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                low = np.maximum(boxes[a, :2], boxes[b, :2])
                high = np.minimum(boxes[a, 2:], boxes[b, 2:])
                inter = np.prod(np.clip(high - low, 0, None))
                areas = np.prod(boxes[[a, b], 2:] - boxes[[a, b], :2], axis=1)
                assert inter / (areas.sum() - inter) <= 0.1 + 1e-6


def test_objects_come_from_their_recorded_digits_and_the_label_is_the_largest():
    made = canvases()
    labels = pd.concat([real_digits().manifest, synthetic_digits().manifest]).set_index("id")
    for row, (boxes, classes) in zip(
        made.manifest.itertuples(),
        targets_per_image(made.boxes, made.manifest["id"], made.classes),
        strict=True,
    ):
        digit_labels = labels.loc[row.digit_ids, "label"].tolist()
        assert [made.classes[c] for c in classes] == digit_labels
        areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
        assert row.label == digit_labels[int(np.argmax(areas))]


def test_tags_describe_each_canvas():
    made = canvases(SMALL.model_copy(update={"max_overlap": 0.0, "size_edges": (10, 14)}))
    counts = made.boxes.groupby("id").size()
    for row in made.manifest.itertuples():
        tags = dict(tag.split("=") for tag in row.tags)
        assert tags["objects"] == str(counts[row.id])
        assert tags["overlap"] == "none"
        assert 0 <= int(tags["clutter"]) <= 2
        boxes = made.boxes[made.boxes["id"] == row.id]
        side = np.sqrt((boxes.x_max - boxes.x_min) * (boxes.y_max - boxes.y_min)).min()
        assert tags["smallest"] == ("small" if side < 10 else "medium" if side < 14 else "large")


def test_canvases_are_a_function_of_the_seed():
    first, again = canvases(), canvases()
    np.testing.assert_array_equal(first.pixels, again.pixels)
    np.testing.assert_array_equal(first.masks, again.masks)
    pd.testing.assert_frame_equal(first.boxes, again.boxes)
    pd.testing.assert_frame_equal(first.manifest, again.manifest)
    other = canvases(SMALL.model_copy(update={"seed": 1}))
    assert not np.array_equal(first.pixels, other.pixels)


def test_a_canvas_does_not_depend_on_how_many_are_drawn():
    few, many = canvases(real=10, synthetic=0), canvases(real=40, synthetic=0)
    np.testing.assert_array_equal(few.pixels, many.pixels[:10])


def test_canvases_share_digits_only_within_their_group():
    made = canvases(real=120, synthetic=90)  # 3 canvases per pool of 3 digits: digits reused
    uses = made.manifest[["group", "digit_ids"]].explode("digit_ids")
    assert uses["digit_ids"].duplicated().any()
    assert (uses.groupby("digit_ids")["group"].nunique() == 1).all()


def test_the_split_never_puts_one_source_digit_in_two_splits():
    made = canvases(real=120, synthetic=90)
    split = assign_splits(made.manifest, SplitParams(dev=0.2, test=0.2, train_dev=0.2))
    uses = made.manifest.assign(split=split.split)[["split", "digit_ids"]].explode("digit_ids")
    assert set(uses["split"].dropna()) == {"train", "train_dev", "dev", "test"}
    assert (uses.dropna().groupby("digit_ids")["split"].nunique() == 1).all()


def test_the_store_round_trips_with_its_boxes_and_masks(tmp_path):
    made = canvases()
    write_canvases(tmp_path / "canvases", made, SMALL)
    store = read_store(tmp_path / "canvases")
    pd.testing.assert_frame_equal(store.manifest, made.manifest)
    np.testing.assert_array_equal(store.pixels, made.pixels)
    np.testing.assert_array_equal(read_masks(tmp_path / "canvases"), made.masks)
    pd.testing.assert_frame_equal(read_boxes(tmp_path / "canvases" / BOXES_FILE), made.boxes)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"digit_size": (8, 48)}, "digit_size must lie in"),
        ({"objects": (0, 2)}, r"objects must lie in \[1, 255\]"),
        ({"objects": (1, 256)}, r"objects must lie in \[1, 255\]"),
        ({"size": (4, 64)}, "size must be at least"),
        ({"size_edges": (20, 10)}, "size_edges must be"),
    ],
)
def test_params_that_cannot_make_a_canvas_are_refused(update, message):
    with pytest.raises(ValidationError, match=message):
        CanvasParams(**SMALL.model_dump() | update)


def test_the_stage_body_reads_the_digit_stores_and_writes_the_canvas_store(tmp_path):
    for name, store in (("ingested", real_digits()), ("synthesized", synthetic_digits())):
        write_store(tmp_path / name, store.manifest, store.pixels, store.classes, 16)
    params = SMALL.model_copy(update={"real_count": 12, "synthetic_count": 8})
    line = build_canvas_store(
        params, tmp_path / "ingested", tmp_path / "synthesized", tmp_path / "canvases"
    )
    assert line.startswith("built 20 canvases ({'handwritten': 12, 'synthetic': 8})")
    store = read_store(tmp_path / "canvases")
    assert store.pixels.shape == (20, 32, 40, 1)
    empty = synthetic_digits().manifest.iloc[:0]
    write_store(
        tmp_path / "synthesized", empty, np.zeros((0, 8, 8, 1), np.uint8), store.classes, 16
    )
    build_canvas_store(params, tmp_path / "ingested", tmp_path / "synthesized", tmp_path / "c2")
    assert set(read_store(tmp_path / "c2").manifest["domain"]) == {"handwritten"}
