"""The `compare` flow: `reproduce` with train.architectures set, on the same split. Its e2e test
is also the test of `reproduce` skipping what DVC finds up to date and running the rest."""

from __future__ import annotations

import shutil

import pytest
import yaml
from helpers.dvc_project import Project
from helpers.repository import PROJECT_ROOT

from pipeline.compare import compare, set_architectures
from traindev.config import ParamsError
from traindev.params_file import load_params


def split_outputs(project: Project) -> list[dict]:
    """The split stage's recorded outputs (paths and hashes) in dvc.lock."""
    return yaml.safe_load((project.root / "dvc.lock").read_text())["stages"]["split"]["outs"]


def test_set_architectures_changes_only_that_line_of_params(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(PROJECT_ROOT / "params.yaml", params)
    before = params.read_text().splitlines()

    set_architectures(params, ["lenet5", "resnet18"])

    after = params.read_text().splitlines()
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [(changed[0][0], "  architectures: [lenet5, resnet18]")]
    assert changed[0][0].startswith("  architectures: [")
    assert load_params(params).train.architectures == ["lenet5", "resnet18"]


def test_set_architectures_rejects_an_unknown_name_and_leaves_params_untouched(tmp_path):
    params = tmp_path / "params.yaml"
    shutil.copy(PROJECT_ROOT / "params.yaml", params)
    before = params.read_bytes()
    with pytest.raises(
        ParamsError,
        match=r"(?s)params.yaml.*unknown architecture 'lenet' \(did you mean 'lenet5'\?\)",
    ):
        set_architectures(params, ["lenet", "deep_nn"])
    assert params.read_bytes() == before
    assert list(tmp_path.iterdir()) == [params]  # no temporary file left behind


@pytest.mark.e2e
def test_compare_trains_the_new_architecture_on_the_same_split_and_reports_both(
    reproduced_project, prefect_server, tmp_path
):
    copy = Project(tmp_path / "compare", reproduced_project.first_repro)
    shutil.copytree(reproduced_project.root, copy.root, symlinks=True)
    split_before = split_outputs(copy)

    outcome = compare(["lenet5", "logistic_regression"], str(copy.root))

    upstream = ["check", "ingest", "synthesize", "canvases", "check_split", "split"]
    assert list(outcome)[:6] == upstream  # dvc.yaml's order, traindev's checks first
    assert list(outcome)[-1] == "report"
    assert outcome["check"] == "ran"  # params.yaml changed: traindev validates it first
    assert {outcome[name] for name in upstream[1:]} == {"skipped"}
    assert outcome["train@lenet5"] == "skipped"  # same params: not trained again
    assert outcome["train@logistic_regression"] == "ran"
    assert "train@deep_nn" not in outcome
    assert outcome["report"] == "ran"
    assert split_outputs(copy) == split_before
    comparison = (copy.root / "reports/report.md").read_text().split("## Architecture comparison")
    table = comparison[1].split("\n## ")[0]
    assert "logistic\\_regression" in table and "lenet5" in table
    assert "deep\\_nn" not in table
    assert "Data and pipelines are up to date" in copy.dvc("status").stdout
