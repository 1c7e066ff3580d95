"""reports/scores/<arch>.json, the one DVC metrics file: flat scalars a user compares."""

from __future__ import annotations

import json
import math

from helpers.records import diagnosis, metrics, training

from traindev.records.io import record_json
from traindev.records.scores import GAP_NAMES, ScoresRecord

MOST_COLUMNS = 12  # per architecture in `dvc metrics show` / `dvc exp show`


def test_scores_are_flat_scalars_few_enough_to_read():
    scores = json.loads(
        record_json(ScoresRecord.from_records(metrics("mlp"), diagnosis("mlp"), training("mlp")))
    )
    assert 0 < len(scores) <= MOST_COLUMNS
    assert all(isinstance(value, int | float) or value is None for value in scores.values())


def test_scores_take_errors_from_the_metrics_record_and_gaps_from_the_diagnosis_record():
    full, judged, trained = metrics("mlp"), diagnosis("mlp"), training("mlp", parameters=1234)
    scores = ScoresRecord.from_records(full, judged, trained)
    assert scores.dev_error == full.bias_variance.dev_error
    assert scores.dev_f1 == full.splits["dev"].f1
    for name in GAP_NAMES:
        gap = judged.gap(name)
        assert gap is not None and getattr(scores, name) == gap.value
    assert scores.parameters == 1234
    assert scores.flops_per_example == trained.flops_per_example


def test_a_gap_the_diagnosis_did_not_report_is_absent_not_zero():
    judged = diagnosis("mlp")
    judged = judged.model_copy(update={"gaps": [g for g in judged.gaps if g.name != "variance"]})
    scores = json.loads(
        record_json(ScoresRecord.from_records(metrics("mlp"), judged, training("mlp")))
    )
    assert "variance" not in scores
    assert not math.isnan(scores["data_mismatch"])
