"""Where a user meets DVC directly: traindev's own errors come first, and a failing stage
never costs the last good outputs (or says how to get them back in one command)."""

from __future__ import annotations

import shutil

import pytest
import yaml
from helpers.dvc_project import Project, make_project, ran_stages, run, tiny_params
from helpers.repository import PROJECT_ROOT

from traindev.workspace import set_param_overrides

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh_project(tmp_path_factory) -> Project:
    """A project never reproduced: enough for checks that stop before any stage's work."""
    root = make_project(tmp_path_factory.mktemp("errors"), tiny_params())
    shutil.copy2(PROJECT_ROOT / "Makefile", root / "Makefile")
    project = Project(root, run(["git", "status"], root))
    project.commit("the Makefile")
    return project


def edited_params(project: Project, edit) -> None:
    path = project.root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    edit(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def test_dvc_repro_reports_an_unknown_architecture_with_traindevs_message(fresh_project):
    """Before: `Parameters 'models.resnet19' are missing from 'params.yaml'`, the wrong fix."""
    edited_params(fresh_project, lambda p: p["train"].update(architectures=["resnet19"]))
    try:
        failed = fresh_project.dvc("repro", check=False)
    finally:
        fresh_project.git("checkout", "-q", "params.yaml")
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert ran_stages(failed.stdout) == {"check"}  # dvc.yaml's first stage, nothing after it
    assert "unknown architecture 'resnet19' (did you mean 'resnet18'?)" in output
    assert "are missing from" not in output
    assert "no stage ran, so the last good outputs are still in place" in output


def test_make_repro_reports_a_renamed_section_before_dvc_parses_dvc_yaml(fresh_project):
    """`trian:` breaks dvc.yaml's ${train.architectures}: DVC would fail to parse it first."""
    edited_params(fresh_project, lambda p: p.update(trian=p.pop("train")))
    try:
        failed = run(["make", "-o", "install", "repro"], fresh_project.root, check=False)
    finally:
        fresh_project.git("checkout", "-q", "params.yaml")
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "trian: unknown key (did you mean 'train'?)" in output
    assert "failed to parse" not in output  # `dvc repro` never started


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.architectures=[resnet19]", "unknown architecture 'resnet19' (did you mean"),
        ("trian.lr=0.1", "-S trian.lr=0.1: params.yaml has no key 'trian.lr' (did you mean"),
        ("train.lr=-1", "params.yaml with -S train.lr=-1: invalid params\n  train.lr:"),
    ],
)
def test_exp_run_validates_the_overridden_params_before_dvc_runs(fresh_project, override, message):
    before = (fresh_project.root / "params.yaml").read_bytes()
    failed = run(["traindev", "exp-run", "-S", override], fresh_project.root, check=False)
    assert failed.returncode == 2
    assert message in failed.stderr
    assert "nothing ran and params.yaml is unchanged" in failed.stderr
    assert (fresh_project.root / "params.yaml").read_bytes() == before
    assert fresh_project.dvc("exp", "list").stdout.strip() == ""


def test_exp_run_reads_every_spelling_of_set_param():
    args = ["-S", "a=1", "--set-param", "b=2", "--set-param=c=3", "-Sd=4", "-n", "x", "--queue"]
    assert set_param_overrides(args) == ["a=1", "b=2", "c=3", "d=4"]


def tracked_changes(project: Project) -> set[str]:
    return set(project.git("status", "--porcelain").stdout.splitlines())


def test_a_split_that_cannot_be_made_fails_before_dvc_deletes_the_last_good_split(
    reproduced_project,
):
    project = reproduced_project
    summary = project.root / "reports/split/summary.json"
    pixels = project.root / "data/split/pixels.npy"
    before = summary.read_bytes(), pixels.read_bytes()
    project.set_param("split", "dev", 100_000)
    try:
        failed = project.dvc("repro", check=False)
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0
        assert ran_stages(failed.stdout) == {"check", "check_split"}
        assert "split.dev + split.test ask for 100000" in output and "holds only 1797" in output
        # Only the user's edit and the check's lock entry changed; no output was deleted.
        assert tracked_changes(project) == {" M params.yaml", " M dvc.lock"}
        assert (summary.read_bytes(), pixels.read_bytes()) == before
    finally:
        project.git("checkout", "-q", "params.yaml", "dvc.lock")
        run(["traindev", "restore"], project.root)  # the checks' stamps, from the DVC cache
    assert project.dvc("status", "--json").stdout.strip() == "{}"


def test_traindev_restore_puts_back_what_a_failed_stage_deleted(reproduced_project):
    """An empty training pool is found only by the split itself, after DVC deleted its
    outputs, git-tracked summary included: one command brings them all back."""
    project = reproduced_project
    summary = project.root / "reports/split/summary.json"
    before = summary.read_bytes()

    def empty_pool(params):
        params["split"].update(target_to_train=0.0, sources={"synthetic": {"fraction": 0.0}})

    edited_params(project, empty_pool)
    try:
        failed = project.dvc("repro", check=False)
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0 and "the training pool is empty" in output
        assert "`traindev restore` (or `make restore`) puts back the last good outputs" in output
        assert " D reports/split/summary.json" in tracked_changes(project)  # what DVC does
        project.git("checkout", "-q", "params.yaml", "dvc.lock")

        restored = run(["traindev", "restore"], project.root)
        assert "reports/split/summary.json (from git)" in restored.stdout
        assert tracked_changes(project) == set()
        assert summary.read_bytes() == before
    finally:
        project.git("checkout", "-q", "params.yaml", "dvc.lock")
        run(["traindev", "restore"], project.root)
    assert project.dvc("status", "--json").stdout.strip() == "{}"
