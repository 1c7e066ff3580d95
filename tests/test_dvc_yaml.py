"""dvc.yaml's dependencies: what makes DVC re-run a stage."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.import_graph import SourceTree, is_re_export_only
from helpers.repository import PROJECT_ROOT

from traindev import paths
from traindev.cli import STAGES
from traindev.config import TrainParams

# Train keys that cannot change the trained weights: the list of models to train, the progress
# bar, and where the resumable per-epoch state goes.
NOT_WEIGHTS = {"architectures", "progress", "checkpoint"}

SOURCE = SourceTree(PROJECT_ROOT / "src")
CLI = "traindev.cli"

# Modules a stage runs that its deps need not list, each with its reason. Besides these, a
# package `__init__.py` holding only a docstring and imports need not be listed: the modules it
# imports are followed and must be.
NOT_DEPS = {
    CLI: "dispatch: parses the command line and hands the stage module its params section; only "
    "its module-level imports are followed (its functions hold the dispatch itself and the "
    "`fetch` command, which is not a stage)",
    "traindev": "its __init__ only sets quiet, offline defaults for the tools' environment "
    "variables, which change no output",
}

# Imports not followed, (importer, imported), each with its reason.
NOT_FOLLOWED = {
    ("traindev.params_file", "traindev.data.augmentation"): "every command checks "
    "train.augment's transforms against albumentations when some are set; no output of a stage "
    "that does not augment depends on it (those that do import it themselves)",
    ("traindev.params_file", "traindev.tasks.specs"): "every command asks the chosen task "
    "whether it supports the params yet, and refuses the file if not; no output depends on it "
    "(the stages that use the task import it themselves)",
}


def dvc_stages() -> dict[str, dict[str, Any]]:
    """Each stage of dvc.yaml by name; a foreach stage by its `do` block (the same for every
    item)."""
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def modules_run_by(stage: dict[str, Any]) -> set[str]:
    """The traindev modules `traindev <command>` can run, read from the code: the CLI's
    module-level imports and the stage module cli.STAGES names, with everything they import."""
    program, command, *_ = shlex.split(stage["cmd"])
    assert program == "traindev", f"{stage['cmd']!r}: a stage runs the traindev CLI"
    entry = f"traindev.stages.{STAGES[command][0]}"
    return SOURCE.closure([CLI, entry], top_level_only=[CLI], not_followed=NOT_FOLLOWED)


def source_deps(stage: dict[str, Any]) -> list[Path]:
    return [PROJECT_ROOT / dep for dep in stage.get("deps", []) if dep.startswith("src/")]


def covers(dep: Path, file: Path) -> bool:
    return dep == file or dep in file.parents


def must_be_listed(module: str) -> bool:
    file = SOURCE.file(module)
    return module not in NOT_DEPS and not (file.name == "__init__.py" and is_re_export_only(file))


def test_train_stage_depends_on_every_train_key_that_can_change_the_weights():
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    params = stages["train"]["do"]["params"]
    expected = {f"train.{key}" for key in TrainParams.model_fields if key not in NOT_WEIGHTS}
    assert set(params) == expected | {"task", "models.${item}"}, (
        "a new train.* key must be listed under the train stage's params in dvc.yaml"
        " (or added to NOT_WEIGHTS here, if it cannot change the weights)"
    )


@pytest.mark.parametrize("name", sorted(dvc_stages()))
def test_stage_deps_list_every_module_the_stage_runs(name):
    stage = dvc_stages()[name]
    deps = source_deps(stage)
    unlisted = sorted(
        str(SOURCE.file(module).relative_to(PROJECT_ROOT))
        for module in modules_run_by(stage)
        if must_be_listed(module) and not any(covers(dep, SOURCE.file(module)) for dep in deps)
    )
    assert not unlisted, (
        f"dvc.yaml stage {name!r} runs these modules but its deps do not list them, so a change "
        f"there would not re-run it: add each (or its folder) to the stage's deps: {unlisted}"
    )


@pytest.mark.parametrize("name", sorted(dvc_stages()))
def test_stage_source_deps_are_code_the_stage_runs(name):
    """A listed module the stage no longer runs re-runs it for nothing (a folder of templates
    or other files without Python modules is left alone)."""
    stage = dvc_stages()[name]
    files = [SOURCE.file(module) for module in modules_run_by(stage)]
    for dep in source_deps(stage):
        assert dep.exists(), f"dvc.yaml stage {name!r} lists {dep}, which does not exist"
        python = [dep] if dep.suffix == ".py" else list(dep.rglob("*.py"))
        if python:
            assert any(covers(dep, file) for file in files), (
                f"dvc.yaml stage {name!r} lists {dep.relative_to(PROJECT_ROOT)}, "
                "but runs no module there: remove it from the stage's deps"
            )


def test_every_allowed_exception_is_still_needed():
    for module in NOT_DEPS:
        assert SOURCE.file(module) is not None, f"NOT_DEPS names {module}, which is gone"
    for importer, imported in NOT_FOLLOWED:
        imports = SOURCE.imports(importer)
        assert any(imported in SOURCE.targets(found) for found in imports), (
            f"{importer} no longer imports {imported}: delete its NOT_FOLLOWED entry"
        )


def _declared(entries: list) -> list[str]:
    """Output paths of a stage's outs / metrics list (an entry is a path or {path: options})."""
    return [entry if isinstance(entry, str) else next(iter(entry)) for entry in entries]


def test_the_only_dvc_metrics_are_the_flat_scores_and_the_plots_read_evaluate_outputs():
    """Issue 18: `dvc metrics show` reads only flat scalar files (records.scores); every other
    record is a plain output. The top-level plots read the folders evaluate fills."""
    document = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())
    metrics = {name: _declared(stage.get("metrics", [])) for name, stage in dvc_stages().items()}
    item = "${item}"
    assert {name: files for name, files in metrics.items() if files} == {
        "evaluate": [str(paths.scores_file(item))]
    }
    evaluate_outs = _declared(dvc_stages()["evaluate"]["outs"])
    assert str(paths.learning_curve_file(item)) in evaluate_outs
    assert str(paths.confusion_plot_file(item)) in evaluate_outs
    plots = [next(iter(entry)) for entry in document["plots"]]
    assert plots == [str(paths.LEARNING_CURVES), str(paths.CONFUSION_PLOTS)]
