"""Incorrectly labeled data: cleanlab's suspects, the notes' arithmetic, the K-fold train check."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.label_noise import planted_errors, scored_held_out

from traindev.analysis.label_issues import (
    false_suspects,
    label_error_impact,
    suspect_label_issues,
    train_label_issues,
)


def error_arrays(count: int, errors: int, errors_suspected: int, right_suspected: int):
    """`errors` misclassified rows, `errors_suspected` of them suspected, plus suspected
    rows the model got right (those must not count towards the label share)."""
    misclassified = np.zeros(count, dtype=bool)
    misclassified[:errors] = True
    suspected = np.zeros(count, dtype=bool)
    suspected[:errors_suspected] = True
    suspected[count - right_suspected :] = True
    return misclassified, suspected


def test_label_errors_in_a_ten_percent_error_are_six_percent_of_errors_not_worth_fixing():
    # The notes' example at a size where 6% of errors is known to be under 10%: 60 of 1,000.
    misclassified, suspected = error_arrays(10000, 1000, 60, 100)
    impact = label_error_impact(misclassified, suspected, worth_fixing_share=0.1)
    assert impact.dev_error == pytest.approx(0.10)
    assert impact.error_from_labels == pytest.approx(0.006)
    assert impact.error_other == pytest.approx(0.094)
    assert impact.share_of_errors == pytest.approx(0.06)
    assert impact.error_without_suspected == pytest.approx(940 / 9840)
    assert impact.suspected == 160
    assert impact.verdict == "not_priority" and not impact.worth_fixing
    assert impact.sentence == (
        "0.60% of the 10.00% dev error (6% of errors) comes from suspected label errors, "
        "9.40% from other causes (5% to 8% of errors): fixing labels is not the priority"
    )


def test_same_label_errors_in_a_two_percent_error_are_thirty_percent_worth_fixing():
    misclassified, suspected = error_arrays(1000, 20, 6, 10)
    impact = label_error_impact(misclassified, suspected, worth_fixing_share=0.1)
    assert impact.dev_error == pytest.approx(0.02)
    assert impact.error_from_labels == pytest.approx(0.006)
    assert impact.share_of_errors == pytest.approx(0.30)
    assert impact.worth_fixing
    assert impact.sentence == (
        "0.60% of the 2.00% dev error (30% of errors) comes from suspected label errors, "
        "1.40% from other causes (15% to 52% of errors): worth fixing the suspected labels"
    )
    assert json.loads(json.dumps(impact.as_dict()))["share_of_errors"] == pytest.approx(0.3)


@pytest.mark.parametrize("suspected_errors", [9, 10, 11])
def test_a_share_on_the_threshold_reads_uncertain_on_both_sides_of_it(suspected_errors):
    # 10 of 100 errors is 10%, exactly the threshold; one suspect more or less must not flip
    # the advice between "worth fixing" and "not the priority".
    misclassified, suspected = error_arrays(1000, 100, suspected_errors, 0)
    impact = label_error_impact(misclassified, suspected, worth_fixing_share=0.1)
    assert impact.verdict == "uncertain" and not impact.worth_fixing
    assert impact.share_low < 0.1 < impact.share_high
    assert impact.sentence.endswith(
        "uncertain whether fixing labels pays off (the interval spans the 10% threshold): "
        "view the top suspects before relabelling"
    )


def _alarms(spread: float, rate: float, seed: int = 0):
    """Held-out rows scored by a real classifier, `rate` of their labels wrong, and the
    false-alarm count calibrated on clean train-dev rows of the same model."""
    truth, probabilities = scored_held_out(per_class=100, classes=10, spread=spread, seed=seed)
    given = planted_errors(truth, rate, classes=10, seed=seed + 1)
    checked, train_dev = slice(0, None, 2), slice(1, None, 2)
    labels, scores = given[checked], probabilities[checked]
    issues = suspect_label_issues(labels, scores, [str(i) for i in range(len(labels))])
    alarms = false_suspects(
        labels,
        scores,
        observed=len(issues),
        focus=np.ones(len(labels), dtype=bool),
        settings=(100, 0.95, 0),
        calibration=(truth[train_dev], probabilities[train_dev], "train-dev"),
    )
    return scores.argmax(axis=1) != labels, issues.mask(len(labels)), alarms


def test_planted_label_errors_at_five_percent_are_worth_fixing():
    misclassified, suspected, alarms = _alarms(spread=0.5, rate=0.05)  # 25 of 500 wrong
    impact = label_error_impact(misclassified, suspected, 0.1, 0.15, false_alarms=alarms)
    assert impact.verdict == "worth_fixing"
    assert 15 <= alarms.excess <= 30  # the estimated number of wrong labels
    assert "worth fixing the suspected labels" in impact.sentence


def test_a_clean_set_and_a_model_of_realistic_error_get_no_worth_fixing_advice():
    # Every label right, the model wrong on about 4% of rows: its confident mistakes are
    # suspects, and the raw share alone would say "worth fixing".
    misclassified, suspected, alarms = _alarms(spread=0.5, rate=0.0)
    raw = label_error_impact(misclassified, suspected, 0.1, 0.15)
    assert raw.verdict == "worth_fixing"  # what the issue's three models were told
    impact = label_error_impact(misclassified, suspected, 0.1, 0.15, false_alarms=alarms)
    assert impact.verdict in {"not_priority", "uncertain"} and not impact.worth_fixing
    low, high = alarms.interval()
    assert low <= alarms.observed <= high  # the suspects are what clean labels produce
    assert f"flags about {impact.false_suspects:.1f} of those" in impact.sentence


def test_false_alarm_count_is_seeded_and_reports_its_calibration():
    first = _alarms(spread=0.5, rate=0.0)[2]
    second = _alarms(spread=0.5, rate=0.0)[2]
    assert np.array_equal(first.counts, second.counts)
    assert first.as_dict()["calibrated_on"] == "train-dev" and first.counts.shape == (100, 2)


def test_zero_dev_error_is_never_worth_fixing_labels_for():
    misclassified, suspected = error_arrays(50, 0, 0, 5)
    impact = label_error_impact(misclassified, suspected, worth_fixing_share=0.0)
    assert impact.dev_error == 0.0 and impact.share_of_errors == 0.0
    assert not impact.worth_fixing
    assert impact.sentence == "no dev errors: nothing to gain from fixing labels"


def test_every_row_suspected_leaves_no_error_without_suspected():
    impact = label_error_impact(np.array([True, False]), np.array([True, True]), 0.1)
    assert impact.error_without_suspected is None
    assert impact.as_dict()["error_without_suspected"] is None


def test_impact_rejects_arrays_of_different_lengths_and_a_share_outside_0_1():
    with pytest.raises(ValueError, match="misclassified has 3 rows but suspected has 2"):
        label_error_impact(np.zeros(3, bool), np.zeros(2, bool), 0.1)
    with pytest.raises(ValueError, match="worth_fixing_share"):
        label_error_impact(np.zeros(3, bool), np.zeros(3, bool), 1.5)


def confident_predictions(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True labels and softmax outputs of a confident, always right 3-class model."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(3), per_class)
    logits = 5.0 * np.eye(3)[truth] + rng.normal(size=(len(truth), 3))
    probabilities = np.exp(logits)
    return truth, probabilities / probabilities.sum(axis=1, keepdims=True)


def planted_flips(truth: np.ndarray, flips: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    flipped = np.sort(rng.choice(len(truth), size=flips, replace=False))
    labels = truth.copy()
    labels[flipped] = (labels[flipped] + rng.integers(1, 3, size=flips)) % 3
    return labels, flipped


def test_cleanlab_ranks_the_planted_label_flips_first():
    truth, probabilities = confident_predictions(per_class=100, seed=0)
    labels, flipped = planted_flips(truth, flips=10, seed=1)
    ids = [f"img{row}" for row in range(len(labels))]
    issues = suspect_label_issues(labels, probabilities, ids)
    assert issues.examined == 300
    assert sorted(issues.rows.tolist()) == flipped.tolist()
    # cleanlab can flag fewer than all flips (its count is an estimate); the quality scores
    # of all rows are the full ranking, and they put every flip first.
    assert set(np.argsort(issues.quality_column())[:10].tolist()) == set(flipped.tolist())
    order = np.argsort(issues.rows)
    assert issues.given[order].tolist() == labels[np.sort(issues.rows)].tolist()
    assert issues.suggested[order].tolist() == truth[np.sort(issues.rows)].tolist()
    assert issues.ids[0] == f"img{issues.rows[0]}"
    assert issues.rank.tolist() == list(range(1, len(issues) + 1))
    assert np.all(np.diff(issues.quality) >= 0)
    assert issues.quality[0] == pytest.approx(probabilities[issues.rows[0], labels[issues.rows[0]]])
    assert issues.mask().sum() == len(issues) and issues.mask()[issues.rows].all()


def test_label_issues_export_class_names_and_json():
    truth, probabilities = confident_predictions(per_class=20, seed=2)
    labels, _ = planted_flips(truth, flips=3, seed=3)
    issues = suspect_label_issues(labels, probabilities, [str(i) for i in range(60)])
    frame = issues.as_frame(classes=["cat", "dog", "bird"])
    assert list(frame.columns) == [
        "rank", "row", "id", "quality", "given", "suggested", "given_class", "suggested_class"
    ]  # fmt: skip
    assert frame["given_class"].iloc[0] == ["cat", "dog", "bird"][issues.given[0]]
    exported = json.loads(json.dumps(issues.as_dict(classes=["cat", "dog", "bird"], top=2)))
    assert exported["examined"] == 60 and exported["suspected"] == len(issues)
    assert len(exported["issues"]) == 2 and exported["issues"][0]["rank"] == 1


@pytest.mark.parametrize(
    ("labels", "probabilities", "message"),
    [
        ([0, 0, 0], [[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]], "only class \\[0\\] is present"),
        ([0, 1], [[0.5, 0.3, 0.2], [0.1, 0.8, 0.1]], "2 examples for 3 classes"),
        ([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [2.0, 3.0]], "row 2 sums to 5.000000"),
        ([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [-1.0, 2.0]], "row 2 has negative"),
        ([0, 1, 2], [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], "row 2 has label 2, outside 0..1"),
        ([0.0, 1.0, 1.0], [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], "class indices"),
    ],
)
def test_degenerate_inputs_raise_a_clear_value_error(labels, probabilities, message):
    with pytest.raises(ValueError, match=message):
        suspect_label_issues(
            np.array(labels), np.array(probabilities), ["a", "b", "c"][: len(labels)]
        )


def separable_features(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(3), per_class)
    centres = np.eye(3, 5) * 6.0
    return centres[truth] + rng.normal(size=(len(truth), 5)), truth


def test_train_check_finds_planted_flips_with_three_folds():
    features, truth = separable_features(per_class=60, seed=4)
    labels, flipped = planted_flips(truth, flips=6, seed=5)
    ids = [f"t{row}" for row in range(len(labels))]
    issues = train_label_issues(features, labels, ids, folds=3, seed=0, max_examples=1000)
    assert set(issues.rows[:6].tolist()) == set(flipped.tolist())
    assert sorted(issues.ids[:6]) == sorted(f"t{row}" for row in flipped)
    top = np.argsort(issues.rows[:6])
    assert issues.suggested[:6][top].tolist() == truth[flipped].tolist()
    assert issues.note == ""


def test_train_check_samples_at_most_max_examples_and_says_so():
    features, truth = separable_features(per_class=60, seed=6)
    labels, _ = planted_flips(truth, flips=6, seed=7)
    issues = train_label_issues(features, labels, list(map(str, range(180))), 3, 0, 90)
    again = train_label_issues(features, labels, list(map(str, range(180))), 3, 0, 90)
    assert issues.examined == 90
    assert "sample of 90 of 180" in issues.note
    assert issues.rows.tolist() == again.rows.tolist()
    assert issues.mask(size=180).sum() == len(issues)


def test_train_check_lowers_folds_for_a_class_smaller_than_folds():
    features, labels = separable_features(per_class=30, seed=8)
    keep = np.r_[0:30, 30:60, 60:62]  # class 2 has 2 members, fewer than 5 folds
    issues = train_label_issues(
        features[keep], labels[keep], [str(i) for i in range(len(keep))], 5, 0, 1000
    )
    assert "2-fold instead of 5-fold: class 2 has only 2 examples" in issues.note


def test_train_check_names_a_class_with_a_single_example():
    features, labels = separable_features(per_class=30, seed=9)
    keep = np.r_[0:60, 60]
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] have a single example"):
        train_label_issues(features[keep], labels[keep], [str(i) for i in range(61)], 3, 0, 100)


def test_a_weak_model_gets_no_label_verdict_however_many_suspects():
    # 30% dev error, half of it "explained" by suspects: a model this weak disagrees with good
    # labels all the time, so the notes' arithmetic must not send anyone relabelling.
    misclassified = np.zeros(100, dtype=bool)
    misclassified[:30] = True
    suspected = np.zeros(100, dtype=bool)
    suspected[:15] = True
    impact = label_error_impact(misclassified, suspected, 0.1, max_model_error=0.15)
    assert impact.share_of_errors == 0.5
    assert not impact.reliable and not impact.worth_fixing
    assert "improve the model first" in impact.sentence
    assert label_error_impact(misclassified, suspected, 0.1, max_model_error=0.35).worth_fixing
