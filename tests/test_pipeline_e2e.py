"""The whole pipeline with the real dvc binary, a real git repository and MLflow on SQLite."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers.dvc_project import ran_stages
from helpers.dvc_project import run as run_command
from mlflow.tracking import MlflowClient

from traindev.records import read_record
from traindev.records.analysis import AnalysisRecord
from traindev.records.diagnosis import DiagnosisRecord
from traindev.records.ingest import IngestSummary
from traindev.records.metrics import MetricsRecord
from traindev.records.runs import EvaluationRun, SelectionRun, TrainingRun
from traindev.records.scores import ScoresRecord
from traindev.records.selection import SelectionRecord
from traindev.records.split import SplitSummary
from traindev.records.synthesis import SynthesisDiversity
from traindev.records.training import TrainingRecord

pytestmark = pytest.mark.e2e

ARCHITECTURES = ["deep_nn", "lenet5"]
CHAMPION = "traindev-classification-handwritten"  # select.registered_model, filled in
PER_ARCHITECTURE = ("train", "evaluate", "analyze")
ALL_STAGES = {
    "check",
    "check_split",
    "ingest",
    "synthesize",
    "canvases",
    "split",
    "augment",
    *(f"{stage}@{arch}" for stage in PER_ARCHITECTURE for arch in ARCHITECTURES),
    "select",
    "report",
}


def stages_of(*names: str) -> set[str]:
    return {f"{stage}@{arch}" for stage in names for arch in ARCHITECTURES}


def test_first_repro_runs_every_stage_and_writes_every_output(reproduced_project):
    root = reproduced_project.root
    assert ran_stages(reproduced_project.first_repro.stdout) == ALL_STAGES
    for path in (
        "data/ingested/manifest.parquet",
        "data/synthesized/pixels.npy",
        "data/split/manifest.parquet",
        "reports/split/summary.json",
        "reports/report.html",
        "reports/report.md",
    ):
        assert (root / path).is_file(), path
    for arch in ARCHITECTURES:
        assert (root / f"data/models/{arch}/model.pt").is_file()
        assert (root / f"data/evaluation/{arch}/predictions.parquet").is_file()
        metrics = json.loads((root / f"reports/metrics/{arch}.json").read_text())
        assert set(metrics["splits"]) == {"train", "train_dev", "dev", "test"}
        table = metrics["bias_variance"]
        assert table["data_mismatch"] == pytest.approx(
            table["dev_error"] - table["train_dev_error"]
        )
    html = (root / "reports/report.html").read_text()
    assert "data:image/png;base64," in html
    assert all(arch in html for arch in ARCHITECTURES)


def test_analyze_writes_sheets_label_issues_and_mismatch_for_each_architecture(
    reproduced_project,
):
    root = reproduced_project.root
    for arch in ARCHITECTURES:
        summary = json.loads((root / f"reports/analysis/{arch}.json").read_text())
        sheet = pd.read_csv(root / f"reports/analysis/{arch}/errors.csv", dtype=str)
        assert len(sheet) == min(summary["misclassified_dev"], 100) > 0
        assert {"id", "label", "prediction", "tick:incorrectly_labeled", "notes"} <= set(sheet)
        assert (sheet["label"] != sheet["prediction"]).all()
        for thumbnail in sheet["thumbnail"]:
            assert (root / f"reports/analysis/{arch}" / thumbnail).is_file()
        assert (root / f"reports/analysis/{arch}/errors.html").is_file()
        # Issue 19 item 5: each error beside its nearest training examples, the flags
        # against training, and a sample of every domain for the report's grid.
        neighbours = sheet[[f"train.neighbour{rank}.id" for rank in (1, 2, 3)]]
        assert neighbours.notna().all().all() and "train.blurry" in sheet
        assert set(sheet["train.neighbour1.domain"]) <= {"handwritten", "synthetic"}
        for ident in neighbours.stack():
            assert (root / f"reports/analysis/{arch}/thumbnails/{ident}.png").is_file()
        assert summary["neighbours"] == 3
        assert {(g["split"], g["domain"]) for g in summary["domain_grid"]} == {
            ("train", "handwritten"),
            ("train", "synthetic"),
            ("dev", "handwritten"),
        }
        assert {s["reference"] for s in summary["property_shift"]} == {
            "all training",
            "handwritten",
            "synthetic",
        }
        assert 0.0 <= summary["mismatch"]["auc"] <= 1.0
        impact = summary["label_issues"]["impact"]
        assert impact["dev_error"] == pytest.approx(summary["dev_error"])
        alarms = summary["label_issues"]["false_suspects"]
        assert alarms["calibrated_on"] == "train-dev" and alarms["low"] <= alarms["high"]
        assert impact["verdict"] in {
            "none",
            "unreliable",
            "worth_fixing",
            "uncertain",
            "not_priority",
        }
        assert summary["review"] is None and "reviews/" in summary["review_hint"]
        diagnosis = json.loads((root / f"data/evaluation/{arch}/diagnosis.json").read_text())
        low, high = diagnosis["intervals"]["rows"]["dev"]
        assert low <= summary["dev_error"] <= high
        # The default split puts target and synthetic rows in train: per-domain rows follow.
        domains = diagnosis["domains"]
        assert [(row["domain"], row["target"]) for row in domains["rows"]] == [
            ("handwritten", True),
            ("synthetic", False),
        ]
        assert (
            domains["target_gaps"] and "Train / train-dev error per domain" in (domains["summary"])
        )
        assert summary["mismatch"]["summary"].startswith("Per training domain")


def test_evaluate_and_analyze_print_their_phases_and_training_its_epochs(reproduced_project):
    # DVC passes each stage's stderr through: a stage that runs for minutes is never silent.
    output = reproduced_project.first_repro.stdout + reproduced_project.first_repro.stderr
    for arch in ARCHITECTURES:
        assert f"[evaluate {arch}" in output and f"[analyze {arch}" in output
        assert re.search(rf"\[analyze {arch} +\d+\.\ds\] label issues", output)
    assert re.search(r"\[train +\d+\.\ds\] epoch 1/\d+: loss", output)


def test_select_crowns_the_best_architecture_in_the_mlflow_registry(reproduced_project):
    root = reproduced_project.root
    selection = json.loads((root / "reports/selection.json").read_text())
    dev_errors = {
        arch: json.loads((root / f"reports/metrics/{arch}.json").read_text())["splits"]["dev"][
            "error"
        ]
        for arch in ARCHITECTURES
    }
    assert selection["winner"]["name"] in ARCHITECTURES
    assert selection["winner"]["value"] == min(dev_errors.values())
    # The run ids and the registry version are run facts: in the run record, not in git.
    crowned = read_record(root / "reports/runs/selection.json", SelectionRun)
    assert crowned.winner.name == selection["winner"]["name"]
    # Named after the problem (task, target domain): another one keeps its own champion.
    assert crowned.champion is not None and crowned.champion.uri == f"models:/{CHAMPION}@champion"
    latency = {row.name: row.measured["latency_ms"] for row in crowned.candidates}
    assert set(latency) == set(ARCHITECTURES) and all(0 < ms < 100 for ms in latency.values())
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    version = MlflowClient().get_model_version_by_alias(CHAMPION, "champion")
    assert version.run_id == crowned.winner.run_id
    mlflow.set_tracking_uri(None)


def test_every_architecture_is_an_mlflow_run_with_a_loadable_model(reproduced_project):
    root = reproduced_project.root
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    client = MlflowClient()
    experiment = client.get_experiment_by_name("traindev")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.info.run_name for run in runs) == ARCHITECTURES
    head = reproduced_project.git("rev-list", "--max-parents=0", "HEAD").stdout.strip()
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["split"]["outs"]
    split_hash = next(out["md5"] for out in lock if out["path"] == "data/split")
    pixels = np.load(root / "data/split/pixels.npy", mmap_mode="r")
    for run in runs:
        assert run.data.tags["git.commit"] == head
        assert len(run.data.tags["data.split.pixels.npy.md5"]) == 32
        assert run.data.tags["architecture"] == run.info.run_name
        assert run.data.params["train.epochs"] == "2"
        assert 0.0 <= run.data.metrics["final.dev.error"] <= 1.0
        assert "gap.data_mismatch" in run.data.metrics
        history = client.get_metric_history(run.info.run_id, "dev_error")
        assert [point.step for point in history] == [1, 2]
        # The splits it saw, their digest the split's hash in dvc.lock.
        inputs = run.inputs.dataset_inputs
        assert {found.dataset.name for found in inputs} == {"train", "train_dev", "dev", "test"}
        assert {found.dataset.digest for found in inputs} == {split_hash}
        # The model takes images as the store holds them (uint8 NHWC) and names the class.
        model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
        predicted = model.predict(np.asarray(pixels[:3]))
        assert len(predicted) == 3 and set(predicted["label"]) <= set(map(str, range(10)))
    mlflow.set_tracking_uri(None)


# Every JSON record a reproduction writes, by the model it must validate as.
RECORDS = {
    "reports/ingest/summary.json": IngestSummary,
    "reports/synthesis/diversity.json": SynthesisDiversity,
    "reports/split/summary.json": SplitSummary,
    "data/models/*/training.json": TrainingRecord,
    "reports/metrics/*.json": MetricsRecord,
    "data/evaluation/*/diagnosis.json": DiagnosisRecord,
    "reports/analysis/*.json": AnalysisRecord,
    "reports/selection.json": SelectionRecord,
    "reports/scores/*.json": ScoresRecord,
    "reports/runs/*/training.json": TrainingRun,
    "reports/runs/*/evaluation.json": EvaluationRun,
    "reports/runs/selection.json": SelectionRun,
}


def test_a_fresh_clone_reproduces_the_tracked_outputs_byte_for_byte(reproduced_project, tmp_path):
    """Issue 17: a fresh clone's `dvc repro` (no DVC cache, an empty MLflow store) recomputes
    the pipeline and leaves git clean: dvc.lock is byte for byte the one committed, so every
    hashed output and committed metric is a function of its inputs (wall times, latency and
    MLflow run ids live in the untracked reports/runs/ and in MLflow)."""
    original = reproduced_project.root
    first = reproduced_project.git("log", "--format=%H", "--grep=^first reproduction$")
    commit = first.stdout.split()[-1]
    clone = tmp_path / "clone"
    run_command(["git", "clone", "-q", str(original), str(clone)], tmp_path)
    run_command(["git", "checkout", "-q", commit], clone)
    second = run_command(["dvc", "repro"], clone)
    changed = run_command(["git", "status", "--porcelain"], clone).stdout
    assert changed == "", run_command(["git", "diff"], clone).stdout
    committed = reproduced_project.git("show", f"{commit}:dvc.lock").stdout
    assert (clone / "dvc.lock").read_text() == committed
    # select's one output is a metric committed to git: with every input reproduced byte for
    # byte, DVC finds it up to date and skips it (it would re-run on any difference upstream).
    assert ran_stages(second.stdout) == ALL_STAGES - {"select"}, second.stdout
    for pattern, model in RECORDS.items():  # the project's own run wrote every record
        files = sorted(original.glob(pattern))
        assert files, pattern
        for path in files:
            read_record(path, model)


def test_second_repro_does_nothing(reproduced_project):
    second = reproduced_project.dvc("repro")
    assert ran_stages(second.stdout) == set()
    assert "Data and pipelines are up to date" in second.stdout


def test_python_bytecode_caches_are_not_dependencies(reproduced_project):
    cache = reproduced_project.root / "src/traindev/models/__pycache__/probe.cpython-311.pyc"
    cache.parent.mkdir(exist_ok=True)
    cache.write_bytes(b"bytecode differs on every machine")
    try:
        assert json.loads(reproduced_project.dvc("status", "--json").stdout) == {}
    finally:
        cache.unlink()


def test_a_file_added_below_data_raw_makes_ingest_stale(reproduced_project):
    added = reproduced_project.root / "data/raw/photos/phone/cat/0001.png"
    added.parent.mkdir(parents=True)
    added.write_bytes(b"not really a png: dvc status only hashes it")
    try:
        status = json.loads(reproduced_project.dvc("status", "--json").stdout)
        assert "ingest" in status
        assert {"changed deps": {"data/raw": "modified"}} in status["ingest"]
    finally:
        shutil.rmtree(reproduced_project.root / "data/raw/photos")
    assert json.loads(reproduced_project.dvc("status", "--json").stdout) == {}


@dataclass(frozen=True)
class Experiment:
    run: subprocess.CompletedProcess
    baseline: str  # the commit it was run on: `dvc exp show` lists it there


@pytest.fixture(scope="module")
def tuned_experiment(reproduced_project) -> Experiment:
    """One `dvc exp run` that two tests read: a model param and an evaluate param at once.

    Each partial reproduction of the tiny project costs ~10 s per stage run, so the chain's
    re-run and the experiment's listing are asserted on the same run (an experiment applies
    its params to the workspace and reproduces it as `dvc repro` would). It is then committed,
    so later tests start from a clean workspace.
    """
    baseline = reproduced_project.git("rev-parse", "HEAD").stdout.strip()
    run = reproduced_project.dvc(
        "exp",
        "run",
        "-S",
        "models.deep_nn.dropout=0.1",
        "-S",
        "evaluate.human_level_error=0.02",
        "-n",
        "deep-dropout",
    )
    reproduced_project.commit("deep_nn dropout 0.1, human-level error 2%")
    return Experiment(run, baseline)


def test_a_model_param_reruns_its_chain_and_an_evaluate_param_leaves_training_alone(
    reproduced_project, tuned_experiment
):
    # models.deep_nn re-runs only deep_nn's chain; evaluate.* re-runs every evaluate and
    # analyze but no training (train@lenet5 stays). A shared train.* key re-runs every
    # architecture's chain the same way (tests/test_dvc_yaml.py pins the train stage's params).
    expected = {"check", "train@deep_nn"} | stages_of("evaluate", "analyze") | {"select", "report"}
    assert ran_stages(tuned_experiment.run.stdout) == expected
    metrics = json.loads((reproduced_project.root / "reports/metrics/lenet5.json").read_text())
    assert metrics["bias_variance"]["human_level_error"] == 0.02


def test_dvc_exp_run_with_a_param_override_is_listed_with_its_metrics(
    reproduced_project, tuned_experiment
):
    shown = reproduced_project.dvc("exp", "show", "--json", "--rev", tuned_experiment.baseline)
    shown = json.loads(shown.stdout)
    experiments = [
        exp
        for commit in shown
        for exp in (commit.get("experiments") or [])
        for rev in exp.get("revs", [])
        if rev.get("name") == "deep-dropout"
    ]
    assert experiments, shown
    data = experiments[0]["revs"][0]["data"]
    params = data["params"]["params.yaml"]["data"]
    assert params["models"]["deep_nn"]["dropout"] == 0.1
    assert params["evaluate"]["human_level_error"] == 0.02
    scores = data["metrics"]["reports/scores/deep_nn.json"]["data"]
    assert 0.0 <= scores["dev_error"] <= 1.0


def test_split_is_reproducible_from_the_same_seed(reproduced_project, tmp_path):
    """Re-running split from scratch gives byte-identical outputs."""
    root = reproduced_project.root
    before = (root / "data/split/pixels.npy").read_bytes()
    reproduced_project.dvc("repro", "--force", "--single-item", "split")
    assert (root / "data/split/pixels.npy").read_bytes() == before
    pixels = np.load(root / "data/split/pixels.npy")
    assert pixels.dtype == np.uint8 and pixels.max() <= 16


def test_a_reviewed_sheet_is_read_back_into_the_ceiling_table(reproduced_project):
    """The notes' round trip: tick the generated sheet, commit it, `dvc repro` reads it."""
    root = reproduced_project.root
    generated = pd.read_csv(root / "reports/analysis/lenet5/errors.csv", dtype=str)
    generated = generated.fillna("")
    generated["tick:blurry"] = ["x" if i % 2 == 0 else "" for i in range(len(generated))]
    generated["smudged"] = ["yes"] + [""] * (len(generated) - 1)  # a category invented in review
    reviewed = root / "reviews/lenet5/errors.csv"
    reviewed.parent.mkdir(parents=True)
    generated.to_csv(reviewed, index=False)

    changed = reproduced_project.dvc("repro")
    assert ran_stages(changed.stdout) == stages_of("analyze") | {"report"}
    summary = json.loads((root / "reports/analysis/lenet5.json").read_text())
    table = {row["category"]: row for row in summary["review"]["table"]}
    blurry_count = (len(generated) + 1) // 2
    assert table["blurry"]["count"] == blurry_count
    assert table["blurry"]["ceiling"] == pytest.approx(
        summary["dev_error"] * blurry_count / len(generated)
    )
    assert table["smudged"]["count"] == 1
    ceilings = [row["ceiling"] for row in summary["review"]["table"]]
    assert ceilings == sorted(ceilings, reverse=True)
    assert "blurry" in (root / "reports/report.html").read_text()

    generated.loc[1, "tick:blurry"] = "maybe"
    generated.to_csv(reviewed, index=False)
    failed = reproduced_project.dvc("repro", check=False)
    assert failed.returncode != 0
    message = failed.stdout + failed.stderr
    assert "reviews/lenet5/errors.csv" in message and "line 3" in message
    assert "tick:blurry" in message or "blurry" in message
    status = reproduced_project.dvc("status", "analyze@lenet5").stdout
    assert "changed deps" in status  # nothing half-written was cached as good

    # Back to the committed state without re-running anything: the unreviewed outputs are in
    # the DVC cache, and `traindev restore` (the failed stage's way back) puts them in place.
    reviewed.unlink()
    reviewed.parent.rmdir()
    reproduced_project.git("checkout", "-q", "dvc.lock")
    run_command(["traindev", "restore"], root)
    assert json.loads(reproduced_project.dvc("status", "--json").stdout) == {}
    assert reproduced_project.git("status", "--porcelain").stdout == ""
