"""Per-domain rows: where the pooled train / train-dev error lives when training mixes domains.

Each case is a scored set the test builds: per (split, domain) an exact error rate, so the
pooled rows are a known mix and the per-domain rows must take them apart.
"""

from __future__ import annotations

import json

import pytest
from helpers.domains import option_two
from helpers.domains import pooled_and_domains as measured

from traindev.evaluation.domains import with_domain_reading
from traindev.records.diagnosis import DiagnosisRecord
from traindev.records.io import record_json


def pooled_and_domains(cells):
    """(pooled diagnosis, per-domain diagnosis) of a scored set built from `cells`."""
    _, pooled, domains = measured(cells)
    return pooled, domains


def test_a_pooled_mismatch_that_is_bias_on_the_target_prescribes_training_not_synthesis():
    # The linear model: 10% on the source's rows, 21% on the target's own training
    # rows, dev 22%. Pooled train-dev (mostly source) looks far better than dev.
    pooled, domains = pooled_and_domains(option_two((0.10, 0.105), (0.21, 0.215), 0.22))
    assert "data_mismatch" in pooled.problems  # what the pooled table alone would prescribe
    assert domains.composition
    assert domains.target.dominant == "avoidable_bias"
    assert "data_mismatch" not in domains.target.problems
    rows = {row.domain: row for row in domains.rows}
    assert rows["target"].target and not rows["source"].target
    assert rows["target"].errors["train"] == pytest.approx(0.21)
    assert rows["source"].errors["train-dev"] == pytest.approx(0.105)
    assert domains.rows[0].domain == "target"  # the target's rows first
    conclusion = domains.conclusion
    assert "mix of domains in train-dev, not a mismatch of the target" in conclusion
    assert "avoidable bias on the target" in conclusion
    assert "train longer" in conclusion and "not synthesis" in conclusion
    summary = with_domain_reading(pooled, domains).summary
    assert summary.startswith(pooled.summary) and "Per domain: " in summary


def test_a_real_shift_of_dev_shows_on_the_targets_own_rows():
    # Both domains fit alike (2%), but dev is 12%: the target's own train-dev rows against
    # dev still show the mismatch, so the pooled knobs stand.
    pooled, domains = pooled_and_domains(option_two((0.02, 0.025), (0.02, 0.025), 0.12))
    assert pooled.dominant == "data_mismatch"
    assert not domains.composition
    assert domains.target.dominant == "data_mismatch"
    assert "still show a mismatch" in domains.conclusion


def test_variance_on_the_target_is_named_with_its_own_rows():
    _, domains = pooled_and_domains(option_two((0.01, 0.012), (0.01, 0.09), 0.09))
    assert domains.target.dominant == "variance"
    assert "the target's own rows show variance" in domains.conclusion.lower()
    assert "more training data of the target" in domains.conclusion


def test_a_target_easier_than_the_mix_is_explained_not_printed_as_no():
    # The default run's logistic regression: synthetic train-dev 18%, target 11%, dev 9%.
    pooled, domains = pooled_and_domains(option_two((0.15, 0.18), (0.10, 0.11), 0.09))
    mismatch = next(gap for gap in pooled.gaps if gap.name == "data_mismatch")
    assert mismatch.value < 0 and mismatch.negative
    assert "dev is easier than the pooled train-dev" in domains.conclusion.lower()
    assert "source train-dev rows (18.00%) are harder" in domains.conclusion
    assert "information, not an error" in domains.conclusion


def test_one_training_domain_has_no_per_domain_rows():
    cells = {
        ("train", "target"): (0.02, 1000),
        ("train_dev", "target"): (0.03, 500),
        ("dev", "target"): (0.05, 500),
        ("test", "target"): (0.05, 500),
    }
    assert pooled_and_domains(cells)[1] is None


def test_without_target_rows_in_training_the_pooled_mismatch_is_the_notes_mismatch():
    cells = {
        ("train", "fonts"): (0.02, 1000),
        ("train", "strokes"): (0.04, 1000),
        ("train_dev", "fonts"): (0.03, 500),
        ("train_dev", "strokes"): (0.05, 500),
        ("dev", "target"): (0.20, 500),
        ("test", "target"): (0.20, 500),
    }
    _, domains = pooled_and_domains(cells)
    assert domains.target is None and domains.target_table is None
    assert [row.domain for row in domains.rows] == ["fonts", "strokes"]
    assert "no target example is in train or train-dev" in domains.conclusion


def test_a_domain_with_a_handful_of_train_dev_rows_claims_no_interval():
    cells = option_two((0.02, 0.02), (0.02, 0.02), 0.02, n=400)
    cells[("train_dev", "rare")] = (1.0, 4)
    cells[("train", "rare")] = (0.0, 40)
    _, domains = pooled_and_domains(cells)
    rare = next(row for row in domains.rows if row.domain == "rare")
    assert rare.counts["train-dev"] == 4 and rare.errors["train-dev"] == 1.0
    assert rare.intervals["train-dev"].is_empty
    assert not rare.intervals["train"].is_empty


def test_the_domain_reading_is_written_through_the_diagnosis_record():
    pooled, domains = pooled_and_domains(option_two((0.10, 0.105), (0.21, 0.215), 0.22))
    record = DiagnosisRecord.model_validate(
        {**pooled.as_dict(), "per_class": [], "domains": domains.as_dict()}
    )
    data = json.loads(record_json(record))
    assert data["domains"]["composition"] is True
    assert data["domains"]["target_dominant"] == "avoidable_bias"
    assert data["domains"]["rows"][0]["counts"] == {"train": 4000, "train-dev": 4000}
    assert record.domains.target_gap("avoidable_bias").matters
    # The pooled gap figures stay where they were (the flat metrics file reads them).
    assert [gap["name"] for gap in data["gaps"]][2] == "data_mismatch"
