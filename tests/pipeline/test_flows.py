"""The Prefect flow over the real DVC stages, on Prefect's local ephemeral server."""

from __future__ import annotations

import shutil

import pytest
from project_harness import Project

from pipeline.dvc_graph import parse_dot, stage_order
from pipeline.flows import StageFailed, reproduce

DOT = """strict digraph {
"ingest";
"synthesize";
"split";
"train@b";
"train@a";
"report";
"ingest" -> "split";
"synthesize" -> "split";
"split" -> "train@b";
"split" -> "train@a";
"train@a" -> "report";
"train@b" -> "report";
}
"""


def test_stage_order_follows_the_dag_and_is_deterministic():
    graph = parse_dot(DOT)
    assert graph["split"] == {"ingest", "synthesize"}
    assert stage_order(graph) == ["ingest", "synthesize", "split", "train@a", "train@b", "report"]


@pytest.mark.e2e
def test_reproduce_runs_what_changed_and_skips_the_rest(reproduced_project, prefect_server):
    reproduced_project.set_param("report", "title", "a retitled report")
    outcome = reproduce(str(reproduced_project.root))
    assert list(outcome)[:3] == ["ingest", "synthesize", "split"]
    assert list(outcome)[-1] == "report"
    assert outcome["report"] == "ran"
    assert {state for name, state in outcome.items() if name != "report"} == {"skipped"}
    assert "a retitled report" in (reproduced_project.root / "reports/report.html").read_text()
    reproduced_project.commit("retitled")


@pytest.mark.e2e
def test_a_failing_stage_fails_the_flow_with_the_stage_error(
    reproduced_project, prefect_server, tmp_path
):
    copy = Project(tmp_path / "broken", reproduced_project.first_repro)
    shutil.copytree(reproduced_project.root, copy.root, symlinks=True)
    copy.set_param("orchestration", "retries", 0)
    copy.set_param("split", "dev", 5000)  # valid params, but more than the target domain holds
    with pytest.raises(StageFailed, match=r"stage 'split' failed:\n.*split.dev \+ split.test ask"):
        reproduce(str(copy.root))
