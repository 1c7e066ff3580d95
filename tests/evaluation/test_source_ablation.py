"""The verdict of "does the source data help?": only a paired difference that clears zero is
called one, and the reading is the notes' (big network helps, small model hurt, weighting)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.ablation import DEV, arm, arms, first_rows_wrong

from traindev.config import DiagnosisParams
from traindev.evaluation.source_ablation import judge
from traindev.records.io import record_json
from traindev.records.source_ablation import SourceAblationRecord

SETTINGS = DiagnosisParams(bootstrap_replicates=2000)


def outcomes(record: SourceAblationRecord) -> dict[tuple[str, str], str]:
    return {(c.first, c.second): c.outcome for c in record.comparisons}


def test_source_data_that_lowers_dev_error_beyond_noise_helps():
    record = judge("resnet18", arms(all_wrong=20, target_wrong=60, weighted_wrong=40), ["t"])
    assert record.verdict == "helps"
    assert record.best == "all"
    assert outcomes(record)[("all", "target_only")] == "lower"
    assert record.comparisons[0].difference == pytest.approx(-40 / DEV)
    assert record.comparisons[0].interval[1] < 0
    assert "The source data helps resnet18" in record.reading
    assert "big enough to fit both" in record.reading
    assert "Use train.source_data.mode: all for resnet18." in record.reading


def test_source_data_that_raises_dev_error_hurts_and_the_reading_names_capacity():
    record = judge("logistic_regression", arms(60, 16, 30), ["handwritten"])
    assert record.verdict == "hurts"
    assert record.best == "target_only"
    assert [arm.dev_error for arm in record.arms] == [0.15, 0.04, 0.075]
    low, high = record.arms[0].dev_interval
    assert low < 0.15 < high
    assert "The source data hurts logistic_regression" in record.reading
    assert "spends capacity on the other one" in record.reading


def test_a_difference_within_noise_is_no_difference_we_can_measure():
    # 3 rows of 400 apart: a paired interval that reaches zero
    record = judge("deep_nn", arms(40, 43, 41), ["handwritten"])
    assert record.verdict == "no measurable difference"
    assert record.best is None
    assert set(outcomes(record).values()) == {"no measurable difference"}
    assert record.comparisons[0].interval[0] <= 0 <= record.comparisons[0].interval[1]
    assert record.reading.startswith("No difference we can measure between training deep_nn")
    assert "no difference we can measure (" in record.comparisons[0].sentence
    assert "No arm is better than both others beyond noise." in record.reading


def test_weighting_that_beats_both_is_the_middle_way():
    record = judge("lenet5", arms(50, 52, 10), ["handwritten"])
    assert record.verdict == "no measurable difference"
    assert record.best == "weighted"
    assert outcomes(record)[("weighted", "all")] == "lower"
    assert outcomes(record)[("weighted", "target_only")] == "lower"
    assert "Weighting the source at 0.1, the notes' middle way, beats both" in record.reading


def test_a_target_only_arm_fitting_its_own_rows_worse_is_flagged_as_under_trained():
    """Fewer steps per epoch on the smaller set: the comparison is then partly the budget."""
    listed = [
        arm("all", first_rows_wrong(20), target_train_wrong=35),
        arm("target_only", first_rows_wrong(60), target_train_wrong=80),
        arm("weighted", first_rows_wrong(40)),
    ]
    record = judge("logistic_regression", listed, ["handwritten"])
    assert record.verdict == "helps" and record.under_trained
    assert [arm.target_train_error for arm in record.arms] == [0.05, 80 / 700, 0.01]
    assert "Caution: trained on the target alone, logistic_regression fits" in record.reading
    assert "(11.43% error) than trained on all the data (5.00%)" in record.reading
    fitted = judge("logistic_regression", arms(20, 60, 40), ["handwritten"])
    assert not fitted.under_trained and "Caution" not in fitted.reading


def test_arms_are_paired_by_dev_id_whatever_order_they_were_listed_in():
    shuffled = np.random.default_rng(0).permutation(DEV)
    listed = [
        arm("all", first_rows_wrong(20), order=shuffled),
        arm("target_only", first_rows_wrong(30)),
        arm("weighted", first_rows_wrong(20), order=shuffled[::-1]),
    ]
    record = judge("deep_nn", listed, ["handwritten"])
    weighted_against_all = record.comparisons[1]
    assert (weighted_against_all.first, weighted_against_all.second) == ("weighted", "all")
    # the same rows wrong: a difference of exactly zero, with no spread at all
    assert weighted_against_all.interval == (0.0, 0.0)


def test_arms_scored_on_other_dev_rows_are_refused():
    other = arm("target_only", first_rows_wrong(30, n=DEV - 1))
    with pytest.raises(ValueError, match="other dev rows than all"):
        judge(
            "deep_nn",
            [arm("all", first_rows_wrong(20)), other, arm("weighted", first_rows_wrong(20))],
            ["t"],
        )


def test_each_mode_is_needed_once():
    with pytest.raises(ValueError, match="one arm per mode"):
        judge("deep_nn", [arm("all", first_rows_wrong(20))] * 3, ["t"])


def test_the_record_round_trips_through_its_json():
    record = judge("deep_nn", arms(20, 60, 40), ["handwritten"], SETTINGS)
    again = SourceAblationRecord.model_validate_json(record_json(record))
    assert again == record
