"""The box table: written and read with the contract's columns and dtypes, every broken rule
reported with the row it concerns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traindev.tasks.detection.box_table import (
    BOX_COLUMNS,
    BoxTableError,
    box_frame,
    empty_boxes,
    read_boxes,
    targets_per_image,
    validate_boxes,
    write_boxes,
)

CLASSES = ["cat", "dog"]
IDS = pd.Series(["a", "b", "c"])


def table(rows: list[tuple[str, int, str, float, float, float, float]]) -> pd.DataFrame:
    ids, objects, labels, *coords = zip(*rows, strict=True)
    return box_frame(list(ids), list(objects), list(labels), np.array(coords).T)


GOOD = [("a", 0, "cat", 1, 2, 10, 12), ("a", 1, "dog", 0, 0, 32, 24), ("b", 0, "dog", 5, 5, 6, 6)]


def test_round_trip_keeps_rows_and_contract_dtypes(tmp_path):
    path = tmp_path / "boxes.parquet"
    write_boxes(path, table(GOOD))
    read = read_boxes(path)
    assert list(read.columns) == BOX_COLUMNS
    assert read["object"].dtype == np.int64
    assert all(read[column].dtype == np.float32 for column in BOX_COLUMNS[3:])
    pd.testing.assert_frame_equal(read, table(GOOD))
    validate_boxes(read, IDS, CLASSES, (24, 32))


def test_an_empty_table_round_trips(tmp_path):
    write_boxes(tmp_path / "boxes.parquet", empty_boxes())
    assert read_boxes(tmp_path / "boxes.parquet").empty


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (("a", 2, "cat", -1, 0, 5, 5), "outside the 32x24 image"),
        (("a", 2, "cat", 0, 0, 33, 5), "outside the 32x24 image"),
        (("a", 2, "cat", 0, 20, 5, 25), "outside the 32x24 image"),
        (("a", 2, "cat", 4, 0, 4, 5), "zero or negative size"),
        (("a", 2, "cat", 0, 6, 5, 5), "zero or negative size"),
        (("a", 2, "bird", 0, 0, 5, 5), "class not in the class list"),
        (("z", 0, "cat", 0, 0, 5, 5), "id not in the manifest"),
        (("a", 0, "cat", 0, 0, 5, 5), "repeats an (id, object) pair"),
        (("a", 2, "cat", float("nan"), 0, 5, 5), "not a finite number"),
    ],
)
def test_each_broken_rule_names_the_row(row, reason):
    with pytest.raises(BoxTableError) as raised:
        validate_boxes(table([*GOOD, row]), IDS, CLASSES, (24, 32), where="boxes.parquet")
    message = str(raised.value)
    assert message.startswith("boxes.parquet: 1 bad row(s)")
    assert f"row 3 (id {row[0]}, object {row[1]}" in message
    assert reason in message


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "boxes.parquet"
    table(GOOD).drop(columns=["label"]).to_parquet(path)
    with pytest.raises(BoxTableError, match=r"lacks columns \['label'\]"):
        read_boxes(path)


def test_targets_follow_the_manifest_order_and_the_object_index():
    shuffled = table(GOOD).iloc[[2, 1, 0]]
    targets = targets_per_image(shuffled, IDS, CLASSES)
    assert [len(classes) for _, classes in targets] == [2, 1, 0]
    boxes, classes = targets[0]
    np.testing.assert_array_equal(boxes, [[1, 2, 10, 12], [0, 0, 32, 24]])
    np.testing.assert_array_equal(classes, [0, 1])
    assert targets[2][0].shape == (0, 4) and targets[2][0].dtype == np.float32
