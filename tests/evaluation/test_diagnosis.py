"""The notes' worked examples of bias / variance / data mismatch (course 3, chapter 2)."""

from __future__ import annotations

import pytest

from traindev.evaluation.diagnosis import BiasVarianceTable, diagnose


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
