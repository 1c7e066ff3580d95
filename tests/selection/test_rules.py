"""Optimizing and satisficing metrics: the notes' rule, ties, typos and missing metrics."""

from __future__ import annotations

import json

import pytest
from helpers.records import bias_variance, training

from traindev.config import SelectParams, ThresholdParams
from traindev.records.metrics import MetricsRecord, SplitMetrics
from traindev.records.runs import Latency
from traindev.selection import (
    Candidate,
    Threshold,
    candidate_from_files,
    select_from_params,
    select_model,
    selection_metrics,
)


def candidate(name: str, metrics: dict[str, float]) -> Candidate:
    return Candidate(
        name=name, run_id=f"run-{name}", source="this run", started=None, metrics=metrics
    )


def notes_example() -> list[Candidate]:
    """Course 3: A 90% / 80 ms, B 92% / 95 ms, C 95% / 1500 ms."""
    return [
        candidate(
            "A", {"dev.accuracy": 0.90, "dev.error": 0.10, "latency_ms": 80.0, "parameters": 10}
        ),
        candidate(
            "B", {"dev.accuracy": 0.92, "dev.error": 0.08, "latency_ms": 95.0, "parameters": 20}
        ),
        candidate(
            "C", {"dev.accuracy": 0.95, "dev.error": 0.05, "latency_ms": 1500.0, "parameters": 30}
        ),
    ]


LATENCY_100 = Threshold("latency_ms", max=100)


def test_the_threshold_excludes_the_most_accurate_model_and_b_wins():
    selection = select_model(notes_example(), "dev.accuracy", "maximize", [LATENCY_100])

    assert selection.winner is not None and selection.winner.name == "B"
    rows = {row.name: row for row in selection.rows}
    assert rows["C"].satisfied is False
    assert rows["C"].failed == ("latency_ms > 100",)
    assert (rows["B"].rank, rows["A"].rank, rows["C"].rank) == (1, 2, None)
    assert [row.name for row in selection.rows] == ["B", "A", "C"]
    assert selection.excluded_by == {"latency_ms <= 100": 1}
    assert selection.explanation.startswith(
        "B wins: highest dev.accuracy (92.00%) among the 2 of 3 candidates"
    )
    assert "C scored better on dev.accuracy (95.00%) but fails latency_ms > 100" in (
        selection.explanation
    )
    assert selection.warnings == ()


def test_maximizing_accuracy_and_minimizing_error_pick_the_same_winner():
    by_accuracy = select_model(notes_example(), "dev.accuracy", "maximize", [LATENCY_100])
    by_error = select_model(notes_example(), "dev.error", "minimize", [LATENCY_100])

    assert by_accuracy.winner.name == by_error.winner.name == "B"
    assert [(r.name, r.rank) for r in by_accuracy.rows] == [(r.name, r.rank) for r in by_error.rows]


def test_without_thresholds_the_best_optimizing_value_wins():
    selection = select_model(notes_example(), "dev.error", "minimize")

    assert selection.winner.name == "C"
    assert "of the 3 candidates (no satisficing thresholds)" in selection.explanation


def test_nobody_satisfying_gives_no_winner_and_names_the_threshold_that_excluded_most():
    thresholds = [Threshold("latency_ms", max=50), Threshold("dev.accuracy", min=0.91)]
    selection = select_model(notes_example(), "dev.error", "minimize", thresholds)

    assert selection.winner is None
    assert all(row.rank is None and not row.satisfied for row in selection.rows)
    assert selection.excluded_by == {"latency_ms <= 50": 3, "dev.accuracy >= 0.91": 1}
    assert selection.explanation.startswith(
        "No candidate meets every threshold: latency_ms <= 50 excluded the most (3 of 3"
    )
    rows = {row.name: row for row in selection.rows}
    assert rows["A"].failed == ("latency_ms > 50", "dev.accuracy 0.9 < 0.91")
    assert rows["B"].failed == ("latency_ms > 50",)


def test_an_unknown_optimizing_metric_names_the_param_and_suggests_the_nearest():
    with pytest.raises(
        ValueError, match=r"select\.optimizing: .*'dev\.eror'.*did you mean 'dev\.error'"
    ):
        select_model(notes_example(), "dev.eror", "minimize")


def test_an_unknown_threshold_metric_names_its_index_in_params():
    thresholds = [LATENCY_100, Threshold("latency", max=100)]
    with pytest.raises(
        ValueError, match=r"select\.satisficing\[1\]\.metric: .*did you mean 'latency_ms'"
    ):
        select_model(notes_example(), "dev.error", "minimize", thresholds)


def test_a_candidate_missing_a_threshold_metric_fails_it_as_not_measured():
    unmeasured = candidate("D", {"dev.error": 0.01, "parameters": 5})  # best error, no latency
    selection = select_model([*notes_example(), unmeasured], "dev.error", "minimize", [LATENCY_100])

    rows = {row.name: row for row in selection.rows}
    assert rows["D"].satisfied is False
    assert rows["D"].failed == ("latency_ms not measured",)
    assert rows["D"].measured == {"dev.error": 0.01, "latency_ms": None}
    assert selection.winner.name == "B"


def test_a_candidate_missing_the_optimizing_metric_cannot_win():
    unscored = candidate("D", {"latency_ms": 1.0})
    selection = select_model([*notes_example(), unscored], "dev.error", "minimize", [LATENCY_100])

    row = next(row for row in selection.rows if row.name == "D")
    assert (row.value, row.satisfied, row.failed) == (None, False, ("dev.error not measured",))
    assert selection.rows[-1] is row


def test_ties_go_to_fewer_parameters_then_name_then_run_id():
    tied = [
        candidate("big", {"dev.error": 0.05, "parameters": 1000}),
        candidate("small", {"dev.error": 0.05, "parameters": 10}),
        candidate("also_small", {"dev.error": 0.05, "parameters": 10}),
    ]
    selection = select_model(tied, "dev.error", "minimize")
    assert [row.name for row in selection.rows] == ["also_small", "small", "big"]
    assert "tied with small, big on dev.error" in selection.explanation

    same_name = [
        Candidate("m", "run-b", "earlier run", None, {"dev.error": 0.05}),
        Candidate("m", "run-a", "earlier run", None, {"dev.error": 0.05}),
    ]
    assert select_model(same_name, "dev.error", "minimize").winner.run_id == "run-a"


def test_maximizing_an_error_or_capping_accuracy_from_above_is_warned():
    selection = select_model(
        notes_example(), "dev.error", "maximize", [Threshold("dev.accuracy", max=0.99)]
    )

    assert selection.winner.name == "A"  # the worst model: exactly what the warning is for
    assert len(selection.warnings) == 2
    assert "select.goal is 'maximize' but dev.error is better when lower" in selection.warnings[0]
    assert "select.satisficing[0]: only a max on dev.accuracy" in selection.warnings[1]
    assert select_model(notes_example(), "dev.accuracy", "maximize").warnings == ()


@pytest.mark.parametrize(
    ("threshold", "value", "expected"),
    [
        # latency measures the machine, not the model: the reason carries no figure, so the
        # committed selection record stays the same from run to run
        (Threshold("latency_ms", max=100), 140.2, "latency_ms > 100"),
        (Threshold("parameters", max=100), 140, "parameters 140 > 100"),
        (Threshold("latency_ms", max=100), 100.0, None),
        (Threshold("dev.f1", min=0.9), 0.85, "dev.f1 0.85 < 0.9"),
        (Threshold("dev.f1", min=0.9, max=0.95), 0.97, "dev.f1 0.97 > 0.95"),
        (Threshold("dev.f1", min=0.9), None, "dev.f1 not measured"),
        (Threshold("dev.f1", min=0.9), float("nan"), "dev.f1 not measured"),
    ],
)
def test_threshold_check_returns_the_reason_or_none(threshold, value, expected):
    assert threshold.check(value) == expected


def test_a_threshold_without_a_bound_or_with_crossed_bounds_is_rejected():
    with pytest.raises(ValueError, match="needs max, min or both"):
        Threshold("latency_ms")
    with pytest.raises(ValueError, match="min 2 is above max 1"):
        Threshold("latency_ms", max=1, min=2)


def test_as_dict_is_json_and_to_frame_has_a_column_per_decision_metric():
    selection = select_model(notes_example(), "dev.accuracy", "maximize", [LATENCY_100])

    data = json.loads(json.dumps(selection.as_dict()))
    assert data["winner"]["name"] == "B"
    assert data["thresholds"] == [
        {"metric": "latency_ms", "max": 100, "min": None, "description": "latency_ms <= 100"}
    ]
    assert data["rows"][2] == {
        "name": "C",
        "source": "this run",
        "run_id": "run-C",
        "started": None,
        "value": 0.95,
        "satisfied": False,
        "failed": ["latency_ms > 100"],
        "rank": None,
        "measured": {"dev.accuracy": 0.95, "latency_ms": 1500.0},
    }
    frame = selection.to_frame()
    assert list(frame.columns) == [
        "rank",
        "name",
        "source",
        "run_id",
        "dev.accuracy",
        "latency_ms",
        "satisfied",
        "failed",
    ]
    assert frame["rank"].tolist()[:2] == [1, 2]


def test_params_select_section_drives_the_same_selection():
    params = SelectParams(
        optimizing="dev.accuracy",
        goal="maximize",
        satisficing=[ThresholdParams(metric="latency_ms", max=100)],
    )
    assert select_from_params(notes_example(), params).winner.name == "B"


def test_files_and_mlflow_metrics_share_one_name_space():
    dev = SplitMetrics(
        count=440, error=0.02, accuracy=0.98, weighted_error=0.03, class_error={"8": 0.1, "3": 0.0}
    )
    from_files = candidate_from_files(
        "lenet5",
        MetricsRecord(splits={"dev": dev}, bias_variance=bias_variance((0.01, 0, 0, 0.02, 0))),
        training("lenet5", parameters=61706),
        None,  # no run record: trained elsewhere, so no run id, wall time or throughput
        Latency(
            latency_ms=0.2,
            quantile=0.1,
            median_ms=0.25,
            p90_ms=0.3,
            max_ms=0.9,
            repeats=200,
            warmup=20,
            threads=1,
            device="cpu",
        ),
    )
    logged = {  # what train and evaluate log to MLflow for the same model
        "final.dev.error": 0.02,
        "final.dev.accuracy": 0.98,
        "final.dev.count": 440,
        "final.dev.weighted_error": 0.03,
        "final.dev.class_error.8": 0.1,
        "final.dev.class_error.3": 0.0,
        "final.latency_ms": 0.2,
        "parameters": 61706,
        "dev_error": 0.5,  # an epoch curve, not a selection metric
        "gap.variance": 0.01,
    }

    assert from_files.metrics == selection_metrics(logged)
    assert set(from_files.metrics) == {
        "dev.error",
        "dev.accuracy",
        "dev.count",
        "dev.weighted_error",
        "dev.class_error.8",
        "dev.class_error.3",
        "latency_ms",
        "parameters",
    }
    assert (from_files.run_id, from_files.source) == (None, "this run")


def test_no_candidates_is_an_error_that_says_how_to_get_some():
    with pytest.raises(ValueError, match="no candidates to select from"):
        select_model([], "dev.error", "minimize")
