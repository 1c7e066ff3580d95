"""Bootstrap intervals for the bias / variance table: coverage, combination, per class, speed."""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from traindev.evaluation import bootstrap
from traindev.evaluation.bootstrap import (
    Interval,
    error_interval,
    paired_difference_interval,
    per_class_intervals,
    table_intervals,
    weighted_error_interval,
)
from traindev.evaluation.weights import weighted_error
from traindev.records.diagnosis import TableIntervals as TableIntervalsRecord
from traindev.records.io import record_json

SPLITS = ("train", "train_dev", "dev", "test")


def wrong(rate: float, n: int) -> np.ndarray:
    """Exactly round(rate * n) mistakes among n examples."""
    return np.arange(n) < round(rate * n)


def coverage(make_interval, truth: float, datasets: int = 300) -> float:
    rng = np.random.default_rng(12345)
    return sum(make_interval(rng, seed).contains(truth) for seed in range(datasets)) / datasets


# --- Interval ---------------------------------------------------------------------------------


def test_interval_contains_its_bounds_and_nothing_when_empty():
    interval = Interval(0.1, 0.2)
    assert interval.contains(0.1) and interval.contains(0.2) and interval.contains(0.15)
    assert not interval.contains(0.09) and not interval.contains(math.nan)
    assert not Interval.empty().contains(0.0)
    assert Interval.empty().is_empty and not interval.is_empty


def test_an_empty_interval_is_written_as_strict_json_with_null_bounds():
    assert Interval(0.1, 0.2).as_dict() == [0.1, 0.2]
    rows = {"test": Interval.empty().as_dict(), "dev": Interval(0.1, 0.2).as_dict()}
    record = TableIntervalsRecord(confidence=0.95, replicates=10, rows=rows, gaps={})
    assert json.loads(record_json(record))["rows"] == {"dev": [0.1, 0.2], "test": [None, None]}


# --- coverage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("confidence", "covers"), [(0.95, True), (0.68, False)])
def test_error_interval_covers_the_true_rate_at_its_confidence(confidence, covers):
    # p = 0.1, n = 400, 300 datasets: a 95% interval covers p in 92-98% of them (sd 1.3
    # points), a 68% interval far less often, so the bounds tell the two apart.
    share = coverage(
        lambda rng, seed: error_interval(rng.random(400) < 0.1, 1000, confidence, seed), 0.1
    )
    assert (0.92 <= share <= 0.98) is covers


@pytest.mark.parametrize(("confidence", "covers"), [(0.95, True), (0.68, False)])
def test_gap_interval_combines_splits_replicate_by_replicate(confidence, covers):
    # train-dev 5% of 600, dev 10% of 400: the true mismatch is 5 points. Subtracting
    # independent replicates gives the right width; adding the two rows' widths would
    # cover nearly always and fail the upper bound.
    def make(rng, seed):
        split = {"train_dev": rng.random(600) < 0.05, "dev": rng.random(400) < 0.1}
        return table_intervals(split, 0.0, 1000, confidence, seed).gap("data_mismatch")

    assert (0.92 <= coverage(make, 0.05) <= 0.98) is covers


def test_weighted_interval_covers_the_true_weighted_error():
    # 20% of examples weigh 10 and are wrong 5% of the time, the rest weigh 1 and are wrong
    # 15% of the time: the weighted error is (2 * 0.05 + 0.8 * 0.15) / 2.8.
    truth = (0.2 * 10 * 0.05 + 0.8 * 0.15) / (0.2 * 10 + 0.8)

    def make(rng, seed):
        heavy = rng.random(1500) < 0.2
        mistakes = np.where(heavy, rng.random(1500) < 0.05, rng.random(1500) < 0.15)
        return weighted_error_interval(mistakes, np.where(heavy, 10.0, 1.0), 1000, 0.95, seed)

    assert 0.91 <= coverage(make, truth) <= 0.98


# --- the table --------------------------------------------------------------------------------


def test_human_level_is_exact_and_every_row_interval_holds_its_error():
    split = {"train": wrong(0.02, 5000), "train_dev": wrong(0.05, 2000), "dev": wrong(0.1, 1000)}
    split["test"] = wrong(0.12, 1000)
    intervals = table_intervals(split, 0.01, 2000, 0.95, seed=0)
    assert intervals.row("human-level") == Interval(0.01, 0.01)
    for name, row in bootstrap.SPLIT_ROWS.items():
        interval = intervals.row(row)
        assert interval.low < split[name].mean() < interval.high
    bias = intervals.gap("avoidable_bias")
    assert bias == Interval(intervals.row("train").low - 0.01, intervals.row("train").high - 0.01)
    assert set(intervals.gaps) == {"avoidable_bias", "variance", "data_mismatch", "dev_overfitting"}


def test_a_bigger_split_gives_a_narrower_interval():
    small = table_intervals({"dev": wrong(0.1, 100)}, 0.0, 2000, 0.95, 0).row("dev")
    large = table_intervals({"dev": wrong(0.1, 10000)}, 0.0, 2000, 0.95, 0).row("dev")
    assert (large.high - large.low) < (small.high - small.low) / 5


def test_an_empty_split_gives_nan_for_its_row_and_the_gaps_that_touch_it():
    split = {"train": wrong(0.02, 500), "train_dev": wrong(0.05, 500), "dev": wrong(0.1, 500)}
    split["test"] = np.array([], dtype=bool)
    intervals = table_intervals(split, 0.0, 500, 0.95, 0)
    assert intervals.row("test").is_empty
    assert intervals.gap("dev_overfitting").is_empty
    assert not intervals.gap("data_mismatch").is_empty
    data = json.loads(record_json(TableIntervalsRecord.model_validate(intervals.as_dict())))
    assert data["rows"]["test"] == [None, None]
    assert data["confidence"] == 0.95 and data["replicates"] == 500


def test_same_seed_same_intervals_other_seed_other_intervals():
    split = {"train": wrong(0.02, 500), "dev": wrong(0.1, 300)}

    def as_json(seed: int) -> str:  # NaN != NaN: compare the JSON the record writes
        intervals = table_intervals(split, 0.0, 500, 0.95, seed=seed).as_dict()
        return record_json(TableIntervalsRecord.model_validate(intervals))

    assert as_json(3) == as_json(3)
    assert as_json(3) != as_json(4)


def test_a_misspelt_split_and_a_non_binary_vector_are_rejected():
    with pytest.raises(ValueError, match=r"unknown split\(s\) \['train-dev'\]"):
        table_intervals({"train-dev": wrong(0.1, 10)}, 0.0, 100, 0.95, 0)
    with pytest.raises(ValueError, match=r"wrong_by_split\['dev'\].*0/1"):
        table_intervals({"dev": np.array([0, 1, 2])}, 0.0, 100, 0.95, 0)
    with pytest.raises(ValueError, match="confidence"):
        table_intervals({"dev": wrong(0.1, 10)}, 0.0, 100, 1.5, 0)


# --- per class --------------------------------------------------------------------------------


def random_predictions(n: int, n_classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, n)
    y_pred = np.where(rng.random(n) < 0.1, rng.integers(0, n_classes, n), y_true)
    return y_true, y_pred, rng.choice(SPLITS, n)


def test_per_class_counts_and_errors_match_a_groupby():
    y_true, y_pred, split = random_predictions(3000, 5)
    result = per_class_intervals(y_true, y_pred, split, list("abcde"), 0.01, 200, 0.95, 0)
    frame = pd.DataFrame({"label": y_true, "wrong": y_true != y_pred, "split": split})
    expected = frame.groupby(["label", "split"])["wrong"].agg(["size", "mean", "sum"])
    for index, name in enumerate("abcde"):
        entry = result[name]
        for split_name, row in bootstrap.SPLIT_ROWS.items():
            size, mean, total = expected.loc[(index, split_name)]
            assert entry.counts[row] == size and entry.errors[row] == total
            assert entry.table.rows[row] == pytest.approx(mean)
        assert entry.table.human_level_error == 0.01
    assert [entry.name for entry in result.classes] == list("abcde")


def test_per_class_intervals_match_the_table_intervals_of_that_class_alone():
    y_true, y_pred, split = random_predictions(40_000, 2)
    result = per_class_intervals(y_true, y_pred, split, ["a", "b"], 0.0, 4000, 0.95, 0)
    for index, name in enumerate("ab"):
        mine = y_true == index
        alone = table_intervals(
            {s: (y_true != y_pred)[mine & (split == s)] for s in SPLITS}, 0.0, 4000, 0.95, 1
        )
        for key in ("train", "dev", "test"):
            assert result[name].intervals.row(key).low == pytest.approx(
                alone.row(key).low, abs=2e-3
            )
            assert result[name].intervals.row(key).high == pytest.approx(
                alone.row(key).high, abs=2e-3
            )
        gap = result[name].intervals.gap("variance")
        assert gap.low == pytest.approx(alone.gap("variance").low, abs=3e-3)


def test_a_class_absent_from_a_split_gets_nan_for_that_row():
    y_true = np.array([0, 0, 1, 1, 0])
    y_pred = np.array([0, 1, 1, 1, 0])
    split = np.array(["train", "train", "train", "dev", "dev"])
    result = per_class_intervals(y_true, y_pred, split, ["0", "1"], 0.0, 200, 0.95, 0)
    assert result["0"].table.train_error == 0.5
    assert math.isnan(result["0"].table.train_dev_error)
    assert result["0"].intervals.row("train-dev").is_empty
    assert result["1"].counts == {"train": 1, "train-dev": 0, "dev": 1, "test": 0}


def test_per_class_rejects_indices_outside_the_class_list():
    with pytest.raises(ValueError, match=r"y_pred: class indices must be in 0\.\.1"):
        per_class_intervals(
            np.array([0, 1]),
            np.array([0, 2]),
            np.array(["dev", "dev"]),
            ["a", "b"],
            0,
            100,
            0.95,
            0,
        )
    with pytest.raises(ValueError, match="unknown split"):
        per_class_intervals(
            np.array([0]), np.array([0]), np.array(["valid"]), ["a"], 0, 100, 0.95, 0
        )


def test_per_class_table_covers_100_classes_over_100k_examples():
    """Its speed is benchmarks/analyze_scale.py's figure, not a timed test."""
    y_true, y_pred, split = random_predictions(100_000, 100)
    classes = [str(index) for index in range(100)]
    result = per_class_intervals(y_true, y_pred, split, classes, 0.01, 2000, 0.95, 0)
    assert len(result.classes) == 100 and result.replicates == 2000


# --- weighted error ---------------------------------------------------------------------------


def test_weighted_interval_holds_the_weighted_error_for_100k_rows():
    """Its speed is benchmarks/analyze_scale.py's figure, not a timed test."""
    rng = np.random.default_rng(0)
    mistakes = rng.random(100_000) < 0.1
    weights = np.where(rng.random(100_000) < 0.2, 10.0, 1.0)
    interval = weighted_error_interval(mistakes, weights, 2000, 0.95, 0)
    assert interval.contains(weighted_error(mistakes, weights))
    assert interval.high - interval.low < 0.01


def test_weighted_interval_with_unit_weights_matches_the_plain_error_interval():
    mistakes = wrong(0.1, 2000)
    weighted = weighted_error_interval(mistakes, np.ones(2000), 4000, 0.95, 0)
    plain = error_interval(mistakes, 4000, 0.95, 0)
    assert weighted.low == pytest.approx(plain.low, abs=0.002)
    assert weighted.high == pytest.approx(plain.high, abs=0.002)


def test_grouped_and_row_resampling_agree_on_the_weighted_error_distribution():
    # Many distinct weights fall back to resampling rows; both must give the same spread.
    rng = np.random.default_rng(2)
    mistakes = rng.random(4000) < 0.2
    weights = rng.choice([1.0, 3.0, 10.0], 4000)
    groups, counts = np.unique(np.stack([weights, mistakes]), axis=1, return_counts=True)
    grouped = bootstrap._multinomial_replicates(groups[0], groups[1], counts, 3000, rng)
    rows = bootstrap._resampled_replicates(weights, mistakes, 3000, rng)
    assert grouped.mean() == pytest.approx(rows.mean(), abs=0.002)
    assert grouped.std() == pytest.approx(rows.std(), rel=0.1)
    assert grouped.mean() == pytest.approx(weighted_error(mistakes, weights), abs=0.002)


def test_row_resampling_keeps_memory_bounded():
    rng = np.random.default_rng(3)
    mistakes = rng.random(100_000) < 0.1
    weights = rng.uniform(1.0, 10.0, 100_000)  # all distinct: the row-resampling path
    tracemalloc.start()
    try:
        interval = weighted_error_interval(mistakes, weights, 300, 0.95, 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Unchunked, 300 replicates x 100k rows of indices and gathered weights is ~700 MB.
    assert peak < 300 * 2**20
    assert interval.contains(weighted_error(mistakes, weights))


def test_weighted_interval_of_no_examples_is_empty_and_bad_weights_are_named():
    assert weighted_error_interval([], [], 100, 0.95, 0).is_empty
    with pytest.raises(ValueError, match=r"weights: must be finite and > 0, row 1"):
        weighted_error_interval([True, False], [1.0, 0.0], 100, 0.95, 0)
    with pytest.raises(ValueError, match=r"expected shape \(2,\)"):
        weighted_error_interval([True, False], [1.0], 100, 0.95, 0)


# --- paired difference ------------------------------------------------------------------------


def test_paired_difference_of_identical_outcomes_is_exactly_zero():
    same = wrong(0.2, 500)
    assert paired_difference_interval(same, same, 1000, 0.95, 0).as_tuple() == (0.0, 0.0)


def test_paired_difference_is_tighter_than_two_independent_intervals():
    """Nested mistakes (b errs on a's rows and 10 more): the paired interval of a - b lies
    below zero, while the unpaired intervals of a and b overlap."""
    a, b = wrong(0.20, 500), wrong(0.22, 500)
    paired = paired_difference_interval(a, b, 4000, 0.95, 0)
    assert paired.high < 0 and paired.contains(-0.02)
    assert error_interval(a, 4000, 0.95, 0).high > error_interval(b, 4000, 0.95, 0).low


def test_paired_difference_covers_the_true_difference():
    def interval(rng, seed):
        a = rng.random(300) < 0.10
        b = np.where(rng.random(300) < 0.9, a, rng.random(300) < 0.2)
        return paired_difference_interval(a, b, 500, 0.9, seed)

    # b copies a on 90% of rows and errs at 20% on the rest: E[a - b] = 0.1 * (0.1 - 0.2)
    assert 0.85 <= coverage(interval, 0.1 * (0.1 - 0.2), datasets=200) <= 0.95


def test_paired_difference_needs_the_same_rows():
    with pytest.raises(ValueError, match="paired rows differ"):
        paired_difference_interval(wrong(0.1, 10), wrong(0.1, 11), 10, 0.95, 0)
    assert paired_difference_interval([], [], 10, 0.95, 0).is_empty
