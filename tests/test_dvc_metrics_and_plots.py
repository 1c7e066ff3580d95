"""What a DVC user types on the reproduced project: `dvc metrics show / diff`, `dvc exp show`
and `dvc plots show / diff` read every file and print a table a person can read (issue 18:
`DVC failed to load some metrics` and about 300 metric columns before)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

ARCHITECTURES = ("deep_nn", "lenet5")  # tiny_params()
SCORES = {f"reports/scores/{arch}.json" for arch in ARCHITECTURES}
MOST_COLUMNS_PER_FILE = 12
FAILED = "failed to load"


def first_reproduction(project) -> str:
    found = project.git("log", "--format=%H", "--grep=^first reproduction$").stdout.split()
    return found[-1]


def assert_flat(data: dict) -> None:
    assert 0 < len(data) <= MOST_COLUMNS_PER_FILE, sorted(data)
    assert all(isinstance(value, int | float) for value in data.values()), data


def test_dvc_metrics_show_reads_every_metric_as_one_flat_row_per_architecture(
    reproduced_project,
):
    shown = reproduced_project.dvc("metrics", "show", "--json")
    assert FAILED not in shown.stdout + shown.stderr
    files = json.loads(shown.stdout)[""]["data"]
    assert set(files) == SCORES
    for entry in files.values():
        assert "error" not in entry
        assert_flat(entry["data"])
        assert 0.0 <= entry["data"]["dev_error"] <= 1.0 and entry["data"]["parameters"] > 0
    table = reproduced_project.dvc("metrics", "show")
    assert FAILED not in table.stdout + table.stderr
    header, *rows = table.stdout.strip().splitlines()
    assert header.split()[0] == "Path" and len(header.split()) <= 1 + MOST_COLUMNS_PER_FILE
    assert sorted(row.split()[0] for row in rows) == sorted(SCORES)


def test_dvc_metrics_diff_lists_every_score_of_a_revision_against_the_workspace(
    reproduced_project,
):
    first = first_reproduction(reproduced_project)
    diff = reproduced_project.dvc("metrics", "diff", first, "--all", "--json")
    assert FAILED not in diff.stdout + diff.stderr
    changes = json.loads(diff.stdout)
    assert set(changes) == SCORES
    for metrics in changes.values():
        assert len(metrics) <= MOST_COLUMNS_PER_FILE
        assert 0.0 <= metrics["dev_error"]["old"] <= 1.0
        assert 0.0 <= metrics["dev_error"]["new"] <= 1.0
    table = reproduced_project.dvc("metrics", "diff", first, "--all")
    assert FAILED not in table.stdout + table.stderr
    assert table.stdout.splitlines()[0].split()[:2] == ["Path", "Metric"]


def test_dvc_exp_show_lists_only_the_flat_scores_as_metrics(reproduced_project):
    shown = reproduced_project.dvc("exp", "show", "--json")
    assert FAILED not in shown.stderr
    workspace = json.loads(shown.stdout)[0]["data"]
    assert set(workspace["metrics"]) == SCORES
    for entry in workspace["metrics"].values():
        assert "error" not in entry
        assert_flat(entry["data"])


def test_dvc_plots_show_renders_learning_curves_and_confusion_matrices(reproduced_project):
    shown = reproduced_project.dvc("plots", "show", "--json")
    plots = json.loads(shown.stdout)
    assert not plots.get("errors"), plots["errors"]
    for arch in ARCHITECTURES:
        (curve,) = plots["data"][f"reports/plots/learning_curves/{arch}.csv"]
        values = curve["content"]["data"]["values"]
        # one point per epoch (tiny_params: 2) and error kind (train, train-dev, dev)
        assert {value["field"] for value in values} == {
            "train_error",
            "train_dev_error",
            "dev_error",
        }
        assert len(values) == 2 * 3
        (confusion,) = plots["data"][f"reports/plots/confusion/{arch}.csv"]
        rows = confusion["content"]["data"]["values"]
        dev = json.loads((reproduced_project.root / f"reports/metrics/{arch}.json").read_text())[
            "splits"
        ]["dev"]["count"]
        assert len(rows) == dev  # one row per dev example
        assert {"actual", "predicted"} <= set(rows[0])


def test_dvc_plots_diff_puts_two_revisions_in_one_plot(reproduced_project):
    first = first_reproduction(reproduced_project)
    diff = json.loads(reproduced_project.dvc("plots", "diff", first, "--json").stdout)
    assert not diff.get("errors"), diff["errors"]
    (curve,) = diff["data"]["reports/plots/learning_curves/lenet5.csv"]
    assert set(curve["revisions"]) == {first, "workspace"}
