"""Multi-label evaluation: sigmoid probabilities, errors over the labels present, per label."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score, precision_score, recall_score

from traindev.config import DiagnosisParams
from traindev.data.batches import to_model_input
from traindev.data.store import ImageStore
from traindev.evaluation.bootstrap import table_intervals
from traindev.evaluation.multilabel import (
    evaluate_labels,
    label_confusion,
    label_split_metrics,
    label_wrong,
    pooled_wrong,
    predict_label_probabilities,
    prediction_columns,
    read_label_predictions,
)
from traindev.records.diagnosis import LabelDiagnosis
from traindev.records.io import record_json
from traindev.stages.evaluate import logged_multilabel

NAN = np.nan
LABELS = ["car", "stop_sign"]
# Six images; stop_sign is unlabelled on three of them.
TARGETS = np.array(
    [[1, 1], [1, NAN], [0, 0], [0, NAN], [1, 1], [0, NAN]],
    dtype=np.float32,
)
# Thresholded at 0.5: car wrong on rows 1 and 3; stop_sign wrong on row 2; the unlabelled
# stop_sign cells are "wrong" by their probability, but must never count.
PROBABILITIES = np.array(
    [[0.9, 0.8], [0.2, 0.1], [0.1, 0.7], [0.6, 0.9], [0.7, 0.6], [0.3, 0.99]],
    dtype=np.float32,
)
# The six-image tables are judged as they are; min_examples has its own test below.
SETTINGS = DiagnosisParams(bootstrap_replicates=200, min_examples=1)


def test_error_counts_only_the_labels_present():
    metrics = label_split_metrics(TARGETS, PROBABILITIES, LABELS)
    # 9 labels present (6 car + 3 stop_sign), 3 of them wrong.
    assert metrics["count"] == 9 and metrics["examples"] == 6
    assert metrics["error"] == pytest.approx(3 / 9)
    assert metrics["accuracy"] == pytest.approx(6 / 9)
    assert metrics["label_count"] == {"car": 6, "stop_sign": 3}
    assert metrics["label_error"] == pytest.approx({"car": 2 / 6, "stop_sign": 1 / 3})
    assert metrics["label_positives"] == {"car": 3, "stop_sign": 2}


def test_per_label_scores_are_scikit_learns_binary_ones_and_the_top_level_their_mean():
    metrics = label_split_metrics(TARGETS, PROBABILITIES, LABELS)
    for j, label in enumerate(LABELS):
        present = ~np.isnan(TARGETS[:, j])
        y_true = TARGETS[present, j].astype(int)
        y_pred = (PROBABILITIES[present, j] >= 0.5).astype(int)
        assert metrics["label_precision"][label] == pytest.approx(precision_score(y_true, y_pred))
        assert metrics["label_recall"][label] == pytest.approx(recall_score(y_true, y_pred))
        assert metrics["label_f1"][label] == pytest.approx(f1_score(y_true, y_pred))
    assert metrics["f1"] == pytest.approx(np.mean(list(metrics["label_f1"].values())))


def test_a_task_without_labels_in_a_split_is_counted_zero_and_left_out_of_the_rates():
    targets = TARGETS.copy()
    targets[:, 1] = NAN
    metrics = label_split_metrics(targets, PROBABILITIES, LABELS)
    assert metrics["label_count"] == {"car": 6, "stop_sign": 0}
    assert set(metrics["label_error"]) == {"car"} and set(metrics["label_f1"]) == {"car"}
    assert metrics["error"] == pytest.approx(2 / 6)


def test_a_split_with_no_label_at_all_has_a_count_and_no_error():
    targets = np.full_like(TARGETS, NAN)
    metrics = label_split_metrics(targets, PROBABILITIES, LABELS)
    assert metrics == {"count": 0, "examples": 6, "label_count": {"car": 0, "stop_sign": 0}}


def test_pooled_wrong_vector_has_one_entry_per_present_label():
    wrong = pooled_wrong(TARGETS, PROBABILITIES)
    assert wrong.shape == (9,) and wrong.sum() == 3
    assert not label_wrong(TARGETS, PROBABILITIES)[np.isnan(TARGETS)].any()


def test_confusion_has_each_tasks_two_by_two_counts_of_present_labels():
    confusion = label_confusion(TARGETS, PROBABILITIES, LABELS)
    assert list(confusion.columns) == ["tn", "fp", "fn", "tp"]
    assert confusion.index.name == "label" and list(confusion.index) == LABELS
    assert confusion.loc["car"].tolist() == [2, 1, 1, 2]
    assert confusion.loc["stop_sign"].tolist() == [0, 1, 0, 2]
    assert confusion.to_numpy().sum() == 9


def test_evaluation_pools_present_labels_per_split_and_bootstraps_that_vector():
    split = np.array(["train", "train", "train_dev", "dev", "dev", "test"])
    result = evaluate_labels(TARGETS, PROBABILITIES, split, LABELS, 0.01, SETTINGS)
    # dev rows 3 and 4: car wrong on row 3, stop_sign present only on row 4 (right).
    assert result.per_split["dev"]["count"] == 3
    assert result.table.dev_error == pytest.approx(1 / 3)
    assert result.table.train_error == result.per_split["train"]["error"] == pytest.approx(1 / 3)
    present = ~np.isnan(TARGETS)
    wrong = label_wrong(TARGETS, PROBABILITIES)
    expected = table_intervals(
        {name: wrong[split == name][present[split == name]] for name in set(split)},
        0.01,
        SETTINGS.bootstrap_replicates,
        SETTINGS.confidence,
        SETTINGS.seed,
    )
    assert result.intervals.as_dict() == expected.as_dict()
    assert result.diagnosis.intervals is result.intervals
    assert result.confusion_dev.to_numpy().sum() == 3


def test_each_task_gets_its_own_table_counts_and_dominant_gap():
    split = np.array(["train", "train", "train_dev", "dev", "dev", "test"])
    result = evaluate_labels(TARGETS, PROBABILITIES, split, LABELS, 0.01, SETTINGS)
    car, stop = result.per_label
    assert car["label"] == "car" and stop["label"] == "stop_sign"
    assert car["counts"] == {"train": 2, "train-dev": 1, "dev": 2, "test": 1}
    assert stop["counts"] == {"train": 1, "train-dev": 1, "dev": 1, "test": 0}
    assert car["errors"]["dev"] == pytest.approx(0.5) and car["errors"]["train"] == 0.5
    written = json.loads(record_json(LabelDiagnosis.model_validate(stop)))
    assert written["errors"]["test"] is None  # no label: null in JSON, not 0
    assert set(car["gaps"]) == {"avoidable_bias", "variance", "data_mismatch", "dev_overfitting"}
    assert "dominant" in car and isinstance(car["summary"], str)


def test_a_label_with_too_few_examples_in_a_row_is_not_judged_like_a_tiny_class():
    """Issue 19: per-label diagnoses apply evaluate.diagnosis.min_examples as the main table.

    `rare` is labelled on four dev images, all wrong, and right on 30 train / train-dev
    images each: its dev row bootstraps to exactly 100%, a zero-width interval that would
    make a 100% data mismatch "matter". `common` has 30 labels in every row and keeps its
    verdict; the pooled table counts labels of both, so it is judged too.
    """
    split = np.repeat(["train", "train_dev", "dev", "test"], 30)
    targets = np.ones((120, 2), dtype=np.float32)
    targets[60:, 1] = NAN
    targets[60:64, 1] = 1.0  # four dev labels of `rare`
    probabilities = np.full((120, 2), 0.9, dtype=np.float32)
    probabilities[60:64, 1] = 0.1  # all four wrong
    probabilities[60:75, 0] = 0.1  # `common`: half of dev wrong, a real data mismatch
    result = evaluate_labels(
        targets, probabilities, split, ["common", "rare"], 0.0, DiagnosisParams()
    )
    common, rare = result.per_label
    assert rare["counts"]["dev"] == 4
    assert rare["gaps"]["data_mismatch"]["too_few"] == 4
    assert not rare["gaps"]["data_mismatch"]["matters"] and rare["dominant"] is None
    assert "Too few examples to judge the gaps of dev (n=4)" in rare["summary"]
    assert common["dominant"] == "data_mismatch"
    assert common["gaps"]["data_mismatch"]["too_few"] is None
    assert result.diagnosis.dominant == "data_mismatch"


def test_mismatched_shapes_and_values_are_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"do not match its label list"):
        label_split_metrics(TARGETS, PROBABILITIES[:, :1], LABELS)
    with pytest.raises(ValueError, match=r"1, 0 or NaN"):
        label_split_metrics(TARGETS * 2, PROBABILITIES, LABELS)
    with pytest.raises(ValueError, match=r"within \[0, 1\]"):
        label_split_metrics(TARGETS, PROBABILITIES * 3, LABELS)
    with pytest.raises(ValueError, match=r"split names"):
        evaluate_labels(TARGETS, PROBABILITIES, np.array(["dev"]), LABELS, 0.0, SETTINGS)


def test_probabilities_are_a_sigmoid_per_output_not_a_softmax():
    torch.manual_seed(0)
    pixels = np.random.default_rng(0).integers(0, 17, size=(5, 4, 4, 1), dtype=np.uint8)
    manifest = pd.DataFrame({"id": list("abcde"), "label": "0", "split": "dev"})
    store = ImageStore(manifest, pixels, ["0", "1"], 16)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    probabilities = predict_label_probabilities(
        model, store, torch.device("cpu"), 2, np.array([4, 0, 2])
    )
    x = to_model_input(torch.from_numpy(pixels[[4, 0, 2]]), 16)
    with torch.no_grad():
        expected = torch.sigmoid(model(x)).numpy()
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    assert not np.allclose(probabilities.sum(axis=1), 1.0)


def test_prediction_columns_read_back_and_missing_ones_name_the_file():
    frame = pd.DataFrame(prediction_columns(TARGETS, PROBABILITIES, LABELS))
    assert list(frame.columns) == [
        "label.car",
        "probability.car",
        "label.stop_sign",
        "probability.stop_sign",
    ]
    targets, probabilities = read_label_predictions(frame, LABELS, "preds.parquet")
    np.testing.assert_array_equal(targets, TARGETS)
    np.testing.assert_array_equal(probabilities, PROBABILITIES)
    with pytest.raises(ValueError, match=r"preds.parquet: no column\(s\) \['label.bus'"):
        read_label_predictions(frame, ["bus"], "preds.parquet")


def test_logged_task_lists_read_back_from_mlflow_params():
    assert logged_multilabel({}) == []  # runs from before train.multilabel: softmax models
    assert logged_multilabel({"train.multilabel": "[]"}) == []
    assert logged_multilabel({"train.multilabel": "['car', 'stop_sign']"}) == LABELS
    assert logged_multilabel({"train.multilabel": "not a list"}) is None
