"""reports/selection.json is committed: a busy machine must not flip it (issue 18).

The same lenet5 measured 0.22 ms idle and 48 ms beside another job; a latency threshold in
the committed record turned that into a pass / fail that changed from run to run. The
tracked record applies only thresholds on the model itself and names the latency one as a
run-time threshold, which the untracked run record applies.
"""

from __future__ import annotations

from traindev.config import SelectParams, ThresholdParams
from traindev.records.io import record_json
from traindev.selection import Candidate, select_from_params
from traindev.stages.select import tracked_record

PARAMS = SelectParams(
    satisficing=[
        ThresholdParams(metric="latency_ms", max=10),
        ThresholdParams(metric="flops_per_example", max=1_000_000),
    ]
)


def candidates(lenet5_latency_ms: float) -> list[Candidate]:
    figures = {
        "lenet5": {"dev.error": 0.04, "flops_per_example": 830_000, "latency_ms": 0.0},
        "deep_nn": {"dev.error": 0.03, "flops_per_example": 100_000, "latency_ms": 0.1},
        "vgg16": {"dev.error": 0.02, "flops_per_example": 300_000_000, "latency_ms": 3.0},
    }
    figures["lenet5"]["latency_ms"] = lenet5_latency_ms
    figures["deep_nn"]["latency_ms"] = lenet5_latency_ms * 2  # the same load slows both
    return [
        Candidate(name, f"run-{name}", "this run", None, metrics)
        for name, metrics in figures.items()
    ]


def test_the_tracked_selection_is_the_same_idle_and_under_load():
    idle, loaded = candidates(0.22), candidates(47.97)
    # the full choice (run record, alias) does depend on the load ...
    assert select_from_params(idle, PARAMS).winner.name == "deep_nn"
    assert select_from_params(loaded, PARAMS).winner is None
    # ... the committed one does not, byte for byte
    assert record_json(tracked_record(idle, PARAMS)) == record_json(tracked_record(loaded, PARAMS))


def test_the_tracked_selection_applies_flops_and_names_latency_as_a_run_time_threshold():
    record = tracked_record(candidates(47.97), PARAMS)
    assert [threshold.description for threshold in record.thresholds] == [
        "flops_per_example <= 1000000"
    ]
    assert [threshold.description for threshold in record.run_time_thresholds] == [
        "latency_ms <= 10"
    ]
    rows = {row.name: row for row in record.candidates}
    assert record.winner is not None and record.winner.name == "deep_nn"
    assert rows["vgg16"].failed == ["flops_per_example 300000000 > 1000000"]
    assert all("latency_ms" not in row.measured for row in record.candidates)
    assert "latency_ms <= 10 measures the machine" in record.explanation
    assert "reports/runs/selection.json" in record.explanation


def test_a_latency_threshold_written_the_wrong_way_still_warns_in_the_tracked_record():
    params = SelectParams(satisficing=[ThresholdParams(metric="latency_ms", min=10)])
    record = tracked_record(candidates(1.0), params)
    assert any("only a min on latency_ms" in warning for warning in record.warnings)
