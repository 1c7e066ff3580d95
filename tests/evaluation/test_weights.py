"""The notes' weighted error: class and tag weights, the largest one wins."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from traindev.evaluation.weights import example_weights, weighted_error

CLASSES = [str(digit) for digit in range(10)]


def weights_of(labels, tags, classes=None, tag_weights=None):
    return example_weights(labels, tags, classes or {}, tag_weights or {}, CLASSES).tolist()


def test_no_weight_applies_gives_one():
    assert weights_of(["1", "2"], [["font=A"], []]) == [1.0, 1.0]


def test_class_weight_applies_to_every_example_of_that_class():
    assert weights_of(["7", "1", "7"], [[], [], []], classes={"7": 10.0}) == [10.0, 1.0, 10.0]


def test_a_class_weight_below_one_still_applies():
    assert weights_of(["7", "1"], [[], []], classes={"7": 0.5}) == [0.5, 1.0]


def test_tag_weight_matches_an_exact_tag_or_any_tag_with_that_key():
    tags = [["font=DejaVuSerif-Bold"], ["font=DejaVuSans"], ["writer_set=optdigits"], ["blurry"]]
    exact = weights_of(["1"] * 4, tags, tag_weights={"font=DejaVuSerif-Bold": 5.0})
    assert exact == [5.0, 1.0, 1.0, 1.0]
    by_key = weights_of(["1"] * 4, tags, tag_weights={"font": 3.0, "blurry": 2.0})
    assert by_key == [3.0, 3.0, 1.0, 2.0]


def test_the_largest_of_class_and_tag_weights_wins():
    labels = ["7", "7", "1", "1"]
    tags = [["font=Bold"], ["font=Thin"], ["font=Bold", "writer_set=optdigits"], []]
    result = weights_of(
        labels,
        tags,
        classes={"7": 4.0},
        tag_weights={"font": 2.0, "font=Bold": 10.0, "writer_set": 3.0},
    )
    assert result == [10.0, 4.0, 10.0, 1.0]


def test_an_unknown_class_names_the_param_and_lists_valid_classes():
    with pytest.raises(ValueError, match=r"evaluate\.error_weights\.classes\.cat") as error:
        weights_of(["1"], [[]], classes={"cat": 10.0})
    assert "'0', '1'" in str(error.value)


def test_tags_as_read_back_from_the_manifest_parquet(tmp_path):
    # Parquet hands list columns back as numpy arrays, and a missing list as None.
    manifest = pd.DataFrame(
        {"label": ["3", "4", "5"], "tags": [["font=DejaVuSans", "rotation=5"], None, []]}
    )
    manifest.to_parquet(tmp_path / "manifest.parquet")
    read = pd.read_parquet(tmp_path / "manifest.parquet")
    assert isinstance(read["tags"][0], np.ndarray)
    result = example_weights(read["label"], read["tags"], {"5": 2.0}, {"font": 7.0}, CLASSES)
    assert result.tolist() == [7.0, 1.0, 2.0]


def test_a_bare_string_of_tags_is_rejected_with_its_row():
    with pytest.raises(ValueError, match=r"tags\[1\]: expected a list of tags"):
        weights_of(["1", "2"], [[], "font=A"], tag_weights={"font": 2.0})


def test_labels_and_tags_must_line_up():
    with pytest.raises(ValueError, match="one entry per example: 2 != 1"):
        weights_of(["1", "2"], [[]])


def test_weighted_error_counts_costly_mistakes_more():
    # The notes' example: one unacceptable image let through (weight 10) among ten examples.
    wrong = np.array([True] + [False] * 9)
    weights = np.array([10.0] + [1.0] * 9)
    assert weighted_error(wrong, weights) == pytest.approx(10 / 19)
    assert weighted_error(wrong, np.ones(10)) == pytest.approx(0.1)


def test_weighted_error_of_nothing_is_nan_and_bad_weights_are_named():
    assert math.isnan(weighted_error(np.array([], dtype=bool), np.array([])))
    with pytest.raises(ValueError, match=r"row 0 is -1\.0"):
        weighted_error(np.array([True]), np.array([-1.0]))
