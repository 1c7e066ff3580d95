"""The Prefect flow over the real DVC stages, on the suite's Prefect test server."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from helpers.dvc_project import Project

from pipeline.dvc_graph import pipeline_state, stage_order
from pipeline.flows import StageFailed, reproduce

GRAPH = {  # stage -> the stages it depends on, as pipeline_state reads it from DVC
    "ingest": set(),
    "synthesize": set(),
    "split": {"ingest", "synthesize"},
    "train@b": {"split"},
    "train@a": {"split"},
    "report": {"train@a", "train@b"},
}


def test_stage_order_follows_the_dag_and_is_deterministic():
    assert stage_order(GRAPH) == ["ingest", "synthesize", "split", "train@a", "train@b", "report"]


def test_pipeline_state_reads_the_graph_and_the_changed_stages_from_dvc(reproduced_project):
    graph, stale = pipeline_state(reproduced_project.root)
    assert graph["split"] == {"ingest", "synthesize", "canvases", "check_split"}
    assert graph["evaluate@lenet5"] == {"split", "train@lenet5"}
    assert stale == set()  # just reproduced


@pytest.mark.e2e
def test_a_failing_stage_fails_the_flow_with_the_stage_error(
    reproduced_project, prefect_server, tmp_path
):
    copy = Project(tmp_path / "broken", reproduced_project.first_repro)
    shutil.copytree(reproduced_project.root, copy.root, symlinks=True)
    copy.set_param("orchestration", "retries", 0)
    copy.set_param("split", "dev", 5000)  # valid params, but more than the target domain holds
    # found by the check before split, so DVC never deleted the last good split
    with pytest.raises(
        StageFailed, match=r"stage 'check_split' failed:\n.*split.dev \+ split.test ask"
    ):
        reproduce(str(copy.root))


@pytest.mark.e2e
def test_reproduce_trains_under_torchrun_and_hands_the_outputs_back_to_dvc(
    reproduced_project, prefect_server, tmp_path
):
    copy = Project(tmp_path / "ddp", reproduced_project.first_repro)
    shutil.copytree(reproduced_project.root, copy.root, symlinks=True)
    copy.set_param("orchestration", "torchrun.nproc_per_node", 2)
    params = yaml.safe_load((copy.root / "params.yaml").read_text())
    params["models"]["deep_nn"].update(hidden_sizes=[16], batch_norm=False)
    (copy.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    outcome = reproduce(str(copy.root))

    assert outcome["train@deep_nn"] == "ran" and outcome["evaluate@deep_nn"] == "ran"
    assert outcome["train@lenet5"] == "skipped"
    training = json.loads((copy.root / "data/models/deep_nn/training.json").read_text())
    assert training["world_size"] == 2
    assert "Data and pipelines are up to date" in copy.dvc("status").stdout  # committed
