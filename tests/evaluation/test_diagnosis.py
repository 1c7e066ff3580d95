"""The notes' worked examples of bias / variance / data mismatch (course 3, chapter 2)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from traindev.evaluation.bootstrap import per_class_intervals, table_intervals
from traindev.evaluation.diagnosis import (
    BiasVarianceTable,
    compare_with_previous,
    diagnose,
    diagnose_per_class,
    natural_key,
)
from traindev.records.diagnosis import DiagnosisRecord
from traindev.records.io import record_json
from traindev.records.runs import PreviousRun


def table(human: float, train: float, train_dev: float, dev: float, test: float | None = None):
    return BiasVarianceTable(
        human_level_error=human / 100,
        train_error=train / 100,
        train_dev_error=train_dev / 100,
        dev_error=dev / 100,
        test_error=(dev if test is None else test) / 100,
    )


@pytest.mark.parametrize(
    ("errors", "problems", "dominant"),
    [
        # train 1%, train-dev 9%, dev 10%: the model does not generalize within its distribution.
        ((0, 1, 9, 10), ["variance"], "variance"),
        # train 1%, train-dev 1.5%, dev 10%: fine on its own distribution, poor on the target.
        ((0, 1, 1.5, 10), ["data_mismatch"], "data_mismatch"),
        # train 10%, train-dev 11%, dev 12% with human 0%: it does not even fit the training set.
        ((0, 10, 11, 12), ["avoidable_bias"], "avoidable_bias"),
        # train 10%, train-dev 11%, dev 20%: both avoidable bias and data mismatch.
        ((0, 10, 11, 20), ["avoidable_bias", "data_mismatch"], "avoidable_bias"),
        # The default run's logistic regression: 8 points of bias next to 19 of mismatch
        # are both worth work, not just the larger one.
        ((1, 9.28, 10.95, 29.77), ["avoidable_bias", "data_mismatch"], "data_mismatch"),
    ],
)
def test_worked_examples(errors, problems, dominant):
    diagnosis = diagnose(table(*errors))
    assert diagnosis.problems == problems
    assert diagnosis.dominant == dominant


def wrong(rate: float, n: int) -> np.ndarray:
    """Exactly round(rate * n) mistakes among n examples."""
    return np.arange(n) < round(rate * n)


def measured(human: float, train: float, train_dev: float, dev: float, test=None, n=100_000):
    """The table and its intervals as measured on splits of n examples each (percent input)."""
    rates = {
        "train": train,
        "train_dev": train_dev,
        "dev": dev,
        "test": dev if test is None else test,
    }
    split_n = n if isinstance(n, dict) else dict.fromkeys(rates, n)
    vectors = {name: wrong(rate / 100, split_n[name]) for name, rate in rates.items()}
    rows = BiasVarianceTable(
        human / 100, *(v.mean() if v.size else math.nan for v in vectors.values())
    )
    return rows, table_intervals(vectors, human / 100, 2000, 0.95, seed=0)


@pytest.mark.parametrize(
    ("errors", "problems", "dominant"),
    [
        ((0, 1, 9, 10), ["variance"], "variance"),
        ((0, 1, 1.5, 10), ["data_mismatch"], "data_mismatch"),
        ((0, 10, 11, 12), ["avoidable_bias"], "avoidable_bias"),
        ((0, 10, 11, 20), ["avoidable_bias", "data_mismatch"], "avoidable_bias"),
        ((1, 9.28, 10.95, 29.77), ["avoidable_bias", "data_mismatch"], "data_mismatch"),
        ((4, 7, 10, 12), ["avoidable_bias", "variance", "data_mismatch"], "avoidable_bias"),
    ],
)
def test_worked_examples_hold_with_intervals_from_large_samples(errors, problems, dominant):
    rows, intervals = measured(*errors)
    diagnosis = diagnose(rows, intervals=intervals)
    assert diagnosis.problems == problems
    assert diagnosis.dominant == dominant
    assert diagnosis.within_noise == []
    assert "within noise" not in diagnosis.summary


def test_the_five_row_table():
    # Human 4%, train 7%, train-dev 10%, dev 12%, test 12% (the rear-view mirror example).
    rows = table(4, 7, 10, 12, 12)
    gaps = rows.gaps
    assert gaps["avoidable_bias"] == pytest.approx(0.03)
    assert gaps["variance"] == pytest.approx(0.03)
    assert gaps["data_mismatch"] == pytest.approx(0.02)
    assert gaps["dev_overfitting"] == pytest.approx(0.0)
    diagnosis = diagnose(rows)
    assert diagnosis.problems == ["avoidable_bias", "variance", "data_mismatch"]
    assert "dev_overfitting" not in diagnosis.problems


def test_each_problem_lists_the_notes_knobs():
    diagnosis = diagnose(table(0, 1, 1.5, 10))
    mismatch = next(gap for gap in diagnosis.gaps if gap.name == "data_mismatch")
    assert any("error analysis" in knob for knob in mismatch.knobs)
    assert any("synthesis" in knob for knob in mismatch.knobs)
    variance = next(gap for gap in diagnosis.gaps if gap.name == "variance")
    assert any("regularization" in knob for knob in variance.knobs)
    assert "data mismatch" in diagnosis.summary


def test_a_gap_to_test_points_to_a_bigger_dev_set():
    diagnosis = diagnose(table(0, 1, 1.2, 1.5, 6))
    assert diagnosis.dominant == "dev_overfitting"
    overfit = next(gap for gap in diagnosis.gaps if gap.name == "dev_overfitting")
    assert overfit.knobs == ("get a bigger dev set",)


def test_no_problem_when_everything_is_near_human_level():
    diagnosis = diagnose(table(1, 1.1, 1.2, 1.3, 1.3))
    assert diagnosis.problems == []
    assert diagnosis.dominant is None
    assert "No gap stands out" in diagnosis.summary


def test_training_error_below_human_level_is_not_a_problem():
    # Negative avoidable bias (train beats the Bayes proxy) must never be flagged.
    diagnosis = diagnose(table(2, 0.5, 6, 7))
    assert "avoidable_bias" not in diagnosis.problems
    assert diagnosis.dominant == "variance"


# --- noise ------------------------------------------------------------------------------------


def test_a_gap_on_a_tiny_dev_set_is_within_noise_not_a_problem():
    # Train 1%, train-dev 1.5%, dev 10%: the notes' data mismatch, but dev holds 20 images.
    n = {"train": 20_000, "train_dev": 20_000, "dev": 20, "test": 20}
    rows, intervals = measured(0, 1, 1.5, 10, n=n)
    diagnosis = diagnose(rows, intervals=intervals)
    # The noisy 8.5 points do not set the bar, so the measured 1-point avoidable bias (on
    # 20,000 training images) is what is left to act on; the mismatch is not a problem.
    assert diagnosis.problems == ["avoidable_bias"]
    assert diagnosis.dominant == "avoidable_bias"
    assert diagnosis.within_noise == ["data_mismatch"]
    mismatch = next(gap for gap in diagnosis.gaps if gap.name == "data_mismatch")
    assert mismatch.interval[0] <= 0 < mismatch.interval[1]
    assert not mismatch.matters and mismatch.within_noise
    assert "Data mismatch 8.50% (95% CI" in diagnosis.summary
    assert "is within noise: a bigger dev set would tell." in diagnosis.summary
    assert "every gap is below the diagnosis thresholds" not in diagnosis.summary


def test_a_noisy_gap_does_not_hide_a_measured_smaller_one():
    # Variance of 2 points on large sets next to a 20-point "mismatch" measured on 15 images:
    # against the noisy 20 points, 2 would fall under relative_to_largest and be dropped.
    n = {"train": 20_000, "train_dev": 20_000, "dev": 15, "test": 15}
    rows, intervals = measured(1, 1, 3, 23, n=n)
    diagnosis = diagnose(rows, intervals=intervals)
    assert diagnosis.problems == ["variance"]
    assert diagnosis.within_noise == ["data_mismatch"]


def test_the_same_gap_on_a_large_dev_set_is_a_problem():
    n = {"train": 20_000, "train_dev": 20_000, "dev": 2_000, "test": 2_000}
    rows, intervals = measured(0, 1, 1.5, 10, n=n)
    diagnosis = diagnose(rows, intervals=intervals)
    assert diagnosis.problems == ["data_mismatch"]
    assert diagnosis.within_noise == []
    assert "data mismatch (8.50%, train-dev → dev, 95% CI" in diagnosis.summary


def test_noise_points_at_the_split_with_the_wider_interval():
    # Variance of 4 points measured on 40 train-dev images against 20,000 training ones.
    n = {"train": 20_000, "train_dev": 40, "dev": 20_000, "test": 20_000}
    rows, intervals = measured(0, 1, 5, 5, n=n)
    diagnosis = diagnose(rows, intervals=intervals)
    assert diagnosis.within_noise == ["variance"]
    assert "a bigger train-dev set would tell" in diagnosis.summary


def test_a_noisy_gap_beside_a_real_one_is_named_after_it():
    n = {"train": 20_000, "train_dev": 20, "dev": 20_000, "test": 20_000}
    rows, intervals = measured(0, 1, 5, 20, n=n)
    diagnosis = diagnose(rows, intervals=intervals)
    assert diagnosis.problems == ["data_mismatch"]
    assert diagnosis.within_noise == ["variance"]
    assert diagnosis.summary.startswith("Largest gap: data mismatch")
    assert "Variance 4.00% (95% CI" in diagnosis.summary


def test_when_every_interval_reaches_zero_the_largest_gap_is_still_called_within_noise():
    # The case: data mismatch 1.83% above min_gap, its interval just reaching zero,
    # and no other gap measurable. It must be named, with its interval and the fix.
    n = {"train": 2000, "train_dev": 400, "dev": 600, "test": 600}
    rows, intervals = measured(1, 1, 2, 3.83, n=n)
    diagnosis = diagnose(rows, intervals=intervals)
    assert diagnosis.problems == []
    assert "data_mismatch" in diagnosis.within_noise
    low, high = intervals.gap("data_mismatch").as_tuple()
    assert low <= 0 < high
    assert f"Data mismatch 1.83% (95% CI {low:.2%} to {high:.2%}) is within noise" in (
        diagnosis.summary
    )
    assert "would tell" in diagnosis.summary
    assert "every gap is below the diagnosis thresholds" not in diagnosis.summary


def test_a_gap_below_min_gap_is_not_called_within_noise_when_nothing_is_measurable():
    n = {"train": 2000, "train_dev": 400, "dev": 600, "test": 600}
    rows, intervals = measured(1, 1, 1.25, 1.5, n=n)
    diagnosis = diagnose(rows, intervals=intervals)
    assert diagnosis.within_noise == [] and diagnosis.problems == []
    assert "every gap is below the diagnosis thresholds" in diagnosis.summary


def test_a_dev_set_easier_than_train_dev_is_said_in_words():
    # Train-dev mixes a harder source domain: dev (the target) is easier. Information.
    rows, intervals = measured(1, 2, 10, 5, n=20_000)
    diagnosis = diagnose(rows, intervals=intervals)
    mismatch = next(gap for gap in diagnosis.gaps if gap.name == "data_mismatch")
    assert mismatch.negative and not mismatch.matters
    assert "dev error is below train-dev error" in mismatch.note
    assert "information, not an error" in diagnosis.summary
    assert "Dev error is below train-dev error" in diagnosis.summary
    assert "no data mismatch to fix: data mismatch -5.00% (95% CI" in diagnosis.summary


def test_a_negative_gap_within_noise_is_not_called_negative():
    n = {"train": 20_000, "train_dev": 50, "dev": 50, "test": 50}
    rows, intervals = measured(1, 2, 6, 4, n=n)
    gaps = diagnose(rows, intervals=intervals).gaps
    mismatch = next(gap for gap in gaps if gap.name == "data_mismatch")
    assert mismatch.value < 0 and not mismatch.negative and mismatch.note is None


def test_a_row_of_four_examples_claims_no_interval_and_judges_no_gap():
    # Issue 18's "bird": four training examples, all wrong, none anywhere else. The bootstrap
    # of 4/4 is the zero-width [100%, 100%]; it must not be called avoidable bias.
    rows, intervals = measured(1, 100, 2, 2, n={"train": 4, "train_dev": 0, "dev": 0, "test": 0})
    counts = {"train": 4, "train-dev": 0, "dev": 0, "test": 0}
    assert intervals.row("train").as_tuple() == (1.0, 1.0)  # what the bootstrap claims
    diagnosis = diagnose(rows, intervals=intervals, counts=counts)
    bias = next(gap for gap in diagnosis.gaps if gap.name == "avoidable_bias")
    assert bias.too_few == 4 and not bias.matters and not bias.within_noise
    assert bias.interval is None and bias.value == pytest.approx(0.99)
    assert diagnosis.dominant is None
    assert diagnosis.intervals.row("train").is_empty
    assert "Too few examples to judge the gaps of train (n=4)" in diagnosis.summary
    assert "min_examples=10" in diagnosis.summary


def test_diagnosis_as_dict_is_strict_json_with_intervals_and_confidence():
    rows, intervals = measured(
        1, 2, 3, 10, n={"train": 500, "train_dev": 500, "dev": 500, "test": 0}
    )
    data = written(diagnose(rows, intervals=intervals).as_dict())
    assert data["confidence"] == 0.95
    assert data["intervals"]["rows"]["test"] == [None, None]
    mismatch = next(gap for gap in data["gaps"] if gap["name"] == "data_mismatch")
    assert mismatch["interval"] == list(intervals.gap("data_mismatch").as_tuple())
    assert mismatch["within_noise"] is False and mismatch["matters"] is True
    overfit = next(gap for gap in data["gaps"] if gap["name"] == "dev_overfitting")
    assert overfit["interval"] == [None, None]


def test_without_intervals_the_dict_says_so():
    data = written(diagnose(table(0, 1, 9, 10)).as_dict())
    assert data["confidence"] is None and data["intervals"] is None
    assert all(gap["interval"] is None and gap["within_noise"] is False for gap in data["gaps"])


def test_a_missing_row_does_not_hide_the_other_gaps():
    # A class with no training examples: NaN train error, NaN bias and variance.
    rows = BiasVarianceTable(0.01, math.nan, 0.02, 0.2, 0.2)
    assert diagnose(rows).problems == ["data_mismatch"]


def written(diagnosis: dict) -> dict:
    """The diagnosis as evaluate writes it: through its record, strict JSON, NaN as null."""
    record = DiagnosisRecord.model_validate({"per_class": [], **diagnosis})
    return json.loads(record_json(record))


# --- comparison with the previous run ---------------------------------------------------------


def test_a_big_move_is_reported_and_a_tiny_one_is_within_noise():
    rows, intervals = measured(0, 1, 1.9, 10, n=20_000)
    previous = {
        "variance": 0.021,  # was 2.1%, now 0.9%: well outside the interval
        "data_mismatch": rows.gaps["data_mismatch"] + 0.0005,
        "dev_error": 0.1001,
        "train_error": 0.01,
    }
    comparison = compare_with_previous(rows, intervals, previous)
    assert comparison["variance"].moved and comparison["variance"].status == "moved"
    assert comparison["variance"].delta == pytest.approx(0.009 - 0.021)
    assert not comparison["data_mismatch"].moved
    assert comparison["data_mismatch"].status == "within noise"
    assert comparison["test_error"].status == "no previous value"
    assert comparison.moved == ["variance"]
    summary = comparison.summary
    assert summary.startswith("Since the previous run: variance fell from 2.10% to 0.90%;")
    assert "unchanged within noise: data mismatch, train error, dev error" in summary
    assert "no previous value for:" in summary and "test error" in summary


def test_comparison_rejects_unknown_keys_and_accepts_nulls():
    rows, intervals = measured(0, 1, 2, 10, n=1_000)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['dev'\]"):
        compare_with_previous(rows, intervals, {"dev": 0.1})
    comparison = compare_with_previous(rows, intervals, {"test_error": None, "dev_error": 0.5})
    assert comparison["test_error"].previous is None
    assert comparison["dev_error"].moved
    assert "dev error rose" not in comparison.summary and "dev error fell" in comparison.summary
    data = comparison.as_dict()
    previous = {"run_id": "abc", "started": "2026-01-01T00:00:00+00:00", "same_split": True}
    record_json(PreviousRun.model_validate({**previous, **data}))  # strict JSON, NaN as null
    assert data["confidence"] == 0.95
    assert {"name", "previous", "current", "delta", "interval", "moved", "status"} <= set(
        data["changes"][0]
    )


# --- per class --------------------------------------------------------------------------------


def test_a_class_always_wrong_on_dev_shows_data_mismatch_for_that_class_only():
    rng = np.random.default_rng(0)
    classes = ["0", "1", "2", "3", "10"]
    n = 10_000
    y_true = rng.integers(0, len(classes), n)
    split = rng.choice(["train", "train_dev", "dev", "test"], n)
    y_pred = y_true.copy()
    confused = (y_true == 3) & np.isin(split, ["dev", "test"])  # class "3" mistaken on target
    y_pred[confused] = 0
    result = per_class_intervals(y_true, y_pred, split, classes, 0.0, 1000, 0.95, 0)
    diagnoses = diagnose_per_class(result)
    assert [entry.name for entry in diagnoses] == ["0", "1", "2", "3", "10"]
    by_name = {entry.name: entry for entry in diagnoses}
    assert by_name["3"].dominant == "data_mismatch"
    assert by_name["3"].diagnosis.problems == ["data_mismatch"]
    assert by_name["3"].table.dev_error == 1.0 and by_name["3"].table.train_dev_error == 0.0
    assert all(by_name[name].dominant is None for name in ("0", "1", "2", "10"))
    data = by_name["3"].as_dict()
    assert (
        data["class"] == "3"
        and data["errors"]["dev"] == 1.0
        and data["dominant"] == "data_mismatch"
    )
    assert data["counts"]["dev"] == int(((y_true == 3) & (split == "dev")).sum())
    assert data["gaps"]["data_mismatch"]["matters"] is True
    assert data["gaps"]["data_mismatch"]["interval"][0] > 0.9
    assert data["error_intervals"]["dev"] == [1.0, 1.0]
    written(
        {**diagnose(table(0, 1, 9, 10)).as_dict(), "per_class": [d.as_dict() for d in diagnoses]}
    )


def test_a_class_seen_a_handful_of_times_gets_no_interval_claim():
    classes = ["cat", "bird"]
    y_true = np.array([0] * 400 + [1] * 4)
    split = np.array(["train", "train_dev", "dev", "test"] * 100 + ["train"] * 4)
    y_pred = np.zeros_like(y_true)  # every bird is called a cat
    result = per_class_intervals(y_true, y_pred, split, classes, 0.01, 500, 0.95, 0)
    by_name = {entry.name: entry for entry in diagnose_per_class(result)}
    bird = by_name["bird"].as_dict()
    assert bird["dominant"] is None
    assert bird["gaps"]["avoidable_bias"]["too_few"] == 4
    assert bird["gaps"]["avoidable_bias"]["interval"] is None
    assert not bird["gaps"]["avoidable_bias"]["matters"]
    assert math.isnan(bird["error_intervals"]["train"][0])
    assert "too few examples" in bird["summary"].lower()
    assert all(gap["too_few"] is None for gap in by_name["cat"].as_dict()["gaps"].values())


def test_classes_sort_naturally():
    names = ["10", "2", "cat10", "cat2", "1"]
    assert sorted(names, key=natural_key) == ["1", "2", "10", "cat2", "cat10"]
