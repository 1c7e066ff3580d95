"""`traindev source-ablation` for real: three `dvc exp run`s of one architecture on the
shared reproduced project (a copy of it), its record, and the workspace left as it was."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers.dvc_project import Project, run

from traindev.records import read_record
from traindev.records.source_ablation import SourceAblationRecord

NAMES = {"source-deep-nn-all", "source-deep-nn-target-only", "source-deep-nn-weighted"}


@pytest.mark.e2e
def test_source_ablation_runs_three_dvc_experiments_and_records_their_verdict(
    reproduced_project, tmp_path
):
    project = Project(tmp_path / "ablation", reproduced_project.first_repro)
    shutil.copytree(reproduced_project.root, project.root, symlinks=True)
    params_before = (project.root / "params.yaml").read_bytes()
    status_before = project.git("status", "--porcelain").stdout.splitlines()

    result = run(
        ["traindev", "source-ablation", "--arch", "deep_nn", "--weight", "0.2"], project.root
    )

    record = read_record(
        project.root / "reports/source_ablation/deep_nn.json", SourceAblationRecord
    )
    arms = {arm.mode: arm for arm in record.arms}
    assert set(arms) == {"all", "target_only", "weighted"}
    assert record.target_domains == ["handwritten"]
    assert arms["target_only"].source_rows == 0
    assert arms["all"].source_rows == arms["weighted"].source_rows > 0
    assert arms["target_only"].train_rows == arms["all"].train_rows - arms["all"].source_rows
    assert arms["weighted"].weight == 0.2
    assert record.split_dvc_md5 in (project.root / "dvc.lock").read_text()
    assert {arm.experiment for arm in record.arms} == NAMES
    scores = json.loads((project.root / "reports/scores/deep_nn.json").read_text())
    assert arms["all"].dev_error == pytest.approx(scores["dev_error"])
    assert record.reading in result.stdout
    assert set(project.dvc("exp", "list", "--name-only").stdout.split()) == NAMES
    # the workspace ends on its own params and outputs: only the new record is new
    assert (project.root / "params.yaml").read_bytes() == params_before
    changes = project.git("status", "--porcelain").stdout.splitlines()
    assert sorted(changes) == sorted([*status_before, "?? reports/source_ablation/deep_nn.json"])
