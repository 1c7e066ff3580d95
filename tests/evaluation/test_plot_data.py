"""The data behind dvc.yaml's plots: long tables DVC's `linear` and `confusion` templates read."""

from __future__ import annotations

import pandas as pd
from helpers.records import training

from traindev.evaluation.plot_data import confusion_rows, label_confusion_rows, learning_curve


def test_the_learning_curve_is_one_row_per_epoch_with_each_split_error():
    record = training("mlp", epochs=3)
    curve = learning_curve(record)
    assert list(curve.columns) == ["epoch", "train_error", "train_dev_error", "dev_error"]
    assert curve["epoch"].tolist() == [epoch.epoch for epoch in record.history]
    assert curve["dev_error"].tolist() == [epoch.dev_error for epoch in record.history]


def test_confusion_rows_count_each_example_once_in_its_cell():
    matrix = pd.DataFrame(
        [[3, 1], [0, 2]], index=pd.Index(["cat", "dog"], name="label"), columns=["cat", "dog"]
    )
    rows = confusion_rows(matrix)
    counted = rows.value_counts().to_dict()
    assert counted == {("cat", "cat"): 3, ("cat", "dog"): 1, ("dog", "dog"): 2}
    assert len(rows) == 6


def test_task_confusion_rows_keep_each_task_in_its_own_block():
    counts = pd.DataFrame(
        {"tn": [5], "fp": [1], "fn": [2], "tp": [4]}, index=pd.Index(["smiling"], name="task")
    )
    counted = label_confusion_rows(counts).value_counts().to_dict()
    assert counted == {
        ("not smiling", "not smiling"): 5,
        ("not smiling", "smiling"): 1,
        ("smiling", "not smiling"): 2,
        ("smiling", "smiling"): 4,
    }
