"""A multi-label model through the real stages: train, evaluate, analyze, select, report.

A tiny store whose images light up one quadrant; label `left` asks "is it on the left?",
label `top` "is it at the top?", with `top` unlabelled on about a third of the images and
a few of its labels flipped, so the errors are neither all 0 nor trivial.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers.records import split_summary
from helpers.repository import PROJECT_ROOT
from mlflow.tracking import MlflowClient

from traindev import paths
from traindev.data.store import write_store
from traindev.params_file import validate_params
from traindev.records import read_record, write_record
from traindev.records.runs import EvaluationRun, TrainingRun
from traindev.records.training import TrainingRecord
from traindev.selection.candidates import candidate_from_run
from traindev.stages import analyze, evaluate, report, select, train
from traindev.tracking import configure
from traindev.training.checkpoint import load_checkpoint

ARCH = "deep_nn"
LABELS = ["left", "top"]
SIZES = {"train": 160, "train_dev": 40, "dev": 40, "test": 40}


def quadrant_store() -> pd.DataFrame:
    """Write data/split (and the split summary the report reads); returns the manifest."""
    rng = np.random.default_rng(0)
    split = np.repeat(list(SIZES), list(SIZES.values()))
    quadrant = rng.integers(0, 4, len(split))
    pixels = rng.integers(0, 3, size=(len(split), 8, 8, 1), dtype=np.uint8)
    for row, where in enumerate(quadrant):
        top, left = divmod(int(where), 2)
        pixels[row, 4 * top : 4 * top + 4, 4 * left : 4 * left + 4, 0] = 16
    top_label = (quadrant < 2).astype(float)
    flipped = rng.random(len(split)) < 0.1
    top_label[flipped] = 1.0 - top_label[flipped]
    top_label[rng.random(len(split)) < 0.3] = np.nan
    manifest = pd.DataFrame(
        {
            "id": [f"im{row:04d}" for row in range(len(split))],
            "source": "test",
            "domain": np.where(np.isin(split, ["train", "train_dev"]), "fonts", "handwritten"),
            "label": (quadrant % 3).astype(str),
            "origin": "real",
            "tags": [[] for _ in split],
            "split": split,
            "label.left": (quadrant % 2 == 0).astype(float),
            "label.top": top_label,
        }
    )
    write_store(paths.SPLIT, manifest, pixels, ["0", "1", "2"], 16)
    counts: dict = {}
    for (name, domain, label), group in manifest.groupby(["split", "domain", "label"]):
        counts.setdefault(name, {}).setdefault(domain, {})[label] = len(group)
    write_record(
        paths.SPLIT_SUMMARY,
        split_summary(counts, "handwritten", unused_target=0, duplicates_dropped=0),
    )
    return manifest


@pytest.fixture
def project(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params["train"].update(
        architectures=[ARCH], epochs=3, batch_size=32, lr=0.02, multilabel=LABELS
    )
    params["models"][ARCH]["hidden_sizes"] = [16]
    params["evaluate"]["diagnosis"]["bootstrap_replicates"] = 200
    yield validate_params(params), quadrant_store()
    mlflow.set_tracking_uri(None)


def earlier_run(labels: str, dev_error: float) -> str:
    """A finished, evaluated run of the same architecture, as an earlier pipeline left it."""
    configure()
    time.sleep(0.01)  # distinct start times, so "latest" is well defined
    with mlflow.start_run(tags={"architecture": ARCH}) as run:
        mlflow.log_param("train.multilabel", labels)
        mlflow.log_metric("final.dev.error", dev_error)
    return run.info.run_id


def pooled_error(predictions: pd.DataFrame, split: str) -> float:
    rows = predictions[predictions["split"] == split]
    labels = rows[[f"label.{name}" for name in LABELS]].to_numpy()
    predicted = rows[[f"probability.{name}" for name in LABELS]].to_numpy() >= 0.5
    present = ~np.isnan(labels)
    return float(((predicted != (labels == 1.0)) & present).sum() / present.sum())


def test_a_multi_label_model_runs_through_evaluate_analyze_and_the_report(project):
    params, manifest = project
    train.run(params, ARCH)
    assert load_checkpoint(paths.model_dir(ARCH) / paths.CHECKPOINT_FILE).binary_labels == LABELS
    multilabel_before = earlier_run("['left', 'top']", 0.5)
    earlier_run("[]", 0.05)  # newer, but a softmax run: no baseline for a pooled label error

    evaluate.run(params, ARCH)
    metrics = json.loads(paths.metrics_file(ARCH).read_text())
    history = json.loads((paths.model_dir(ARCH) / "training.json").read_text())["history"][-1]
    evaluation = paths.evaluation_dir(ARCH)
    predictions = pd.read_parquet(evaluation / "predictions.parquet")
    assert list(predictions.columns) == [
        "row", "id", "split", "domain", "label.left", "probability.left", "label.top",
        "probability.top",
    ]  # fmt: skip
    assert len(predictions) == len(manifest)  # 160 training rows are under the sample size
    probabilities = np.load(evaluation / "probabilities.npy")
    assert probabilities.shape == (len(manifest), 2)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()

    dev = metrics["splits"]["dev"]
    dev_manifest = manifest[manifest["split"] == "dev"]
    assert dev["label_count"] == {
        "left": len(dev_manifest),
        "top": int(dev_manifest["label.top"].notna().sum()),
    }
    assert dev["count"] == sum(dev["label_count"].values()) and dev["examples"] == SIZES["dev"]
    assert 0 < dev["error"] < 0.5  # learned, and the flipped labels keep it above zero
    assert dev["error"] == pytest.approx(pooled_error(predictions, "dev"))
    # The trainer's monitor and evaluate pool the same present labels of the same weights.
    assert metrics["bias_variance"]["dev_error"] == pytest.approx(history["dev_error"])
    assert metrics["bias_variance"]["train_error"] == pytest.approx(history["train_error"])
    assert metrics["binary_labels"] == LABELS and set(dev["label_f1"]) == set(LABELS)

    diagnosis = json.loads((evaluation / "diagnosis.json").read_text())
    assert diagnosis["per_class"] == [] and [t["label"] for t in diagnosis["per_label"]] == LABELS
    # The comparison with an earlier MLflow run is a run fact: in the run record, not in the
    # DVC-hashed diagnosis.
    assert "previous" not in diagnosis
    evaluation_run = read_record(paths.evaluation_run_file(ARCH), EvaluationRun)
    assert evaluation_run.previous.run_id == multilabel_before
    confusion = pd.read_csv(evaluation / "confusion_dev.csv", index_col="label")
    assert list(confusion.columns) == ["tn", "fp", "fn", "tp"]
    assert confusion.to_numpy().sum() == dev["count"]

    run_id = read_record(paths.training_run_file(ARCH), TrainingRun).run_id
    run = MlflowClient().get_run(run_id)
    assert run.data.tags["task"] == "classification"
    logged = run.data.metrics
    assert logged["final.dev.error"] == pytest.approx(dev["error"])
    assert logged["final.dev.label_error.top"] == pytest.approx(dev["label_error"]["top"])

    analyze.run(params, ARCH)
    analysis = json.loads(paths.analysis_file(ARCH).read_text())
    assert analysis["multilabel"] is True and analysis["dev_error"] == pytest.approx(dev["error"])
    assert "single-label" in analysis["note"]
    assert (paths.analysis_dir(ARCH) / "README.txt").is_file()

    select.run(params)
    assert json.loads(paths.SELECTION_FILE.read_text())["winner"]["name"] == ARCH
    report.run(params)
    markdown = (paths.REPORTS / "report.md").read_text()
    assert "### Per label" in markdown and "| left |" in markdown
    assert "Dev confusion matrix" not in markdown and "Errors sheet" not in markdown
    assert (paths.REPORTS / "figures" / f"label_errors_{ARCH}.png").is_file()


def test_an_evaluation_whose_training_run_is_unknown_logs_a_whole_candidate(project):
    """DVC restores a trained model from its run cache without the git-ignored run record (a
    sweep trial repeating an earlier configuration): evaluate then opens a new MLflow run, which
    must still carry the model's size figures, or a satisficing threshold on them cannot judge it.
    """
    params, _ = project
    train.run(params, ARCH)
    paths.training_run_file(ARCH).unlink()
    evaluate.run(params, ARCH)

    runs = MlflowClient().search_runs(
        [configure()],
        filter_string="metrics.`final.dev.error` >= 0",
    )
    assert len(runs) == 1
    training = read_record(paths.model_dir(ARCH) / paths.TRAINING_FILE, TrainingRecord)
    assert runs[0].data.metrics["parameters"] == training.parameters
    assert runs[0].data.metrics["flops_per_example"] == training.flops_per_example
    assert candidate_from_run(runs[0]).metrics["parameters"] == training.parameters
