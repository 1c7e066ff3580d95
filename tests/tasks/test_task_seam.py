"""The task seam: `task` in params picks what the stages ask, and a task that cannot run a
params file yet is refused by `traindev check`, never half run."""

from __future__ import annotations

import typing
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.image_stores import tiny_store
from helpers.records import load, write_fake_inputs

from traindev.config import EvaluateParams, ParamsError, TaskName, TrainParams
from traindev.params_file import validate_params
from traindev.reporting.render import (
    SECTIONS,
    ArchitectureFigures,
    Heading,
    RenderedFigure,
    detail_blocks,
)
from traindev.tasks.classification.scoring import score
from traindev.tasks.detection.spec import NOT_WIRED
from traindev.tasks.heads import task_head
from traindev.tasks.scoring import task_scorer
from traindev.tasks.specs import PLANNED, SPECS, task_spec
from traindev.training.objectives import MultiLabel, SingleLabel


def test_every_task_params_can_name_is_built_or_planned():
    assert set(typing.get_args(TaskName)) == set(SPECS) | set(PLANNED)
    assert not set(SPECS) & set(PLANNED)


def test_default_task_is_classification_and_passes_check(default_params):
    assert validate_params(default_params).task == "classification"


def test_check_refuses_detection_naming_every_part_not_wired_yet(default_params):
    default_params["task"] = "detection"
    with pytest.raises(ParamsError, match="not yet supported for task detection: ") as caught:
        validate_params(default_params)
    for part in NOT_WIRED:
        assert part in str(caught.value)


@pytest.mark.parametrize("task", sorted(PLANNED))
def test_check_refuses_a_planned_task(default_params, task):
    default_params["task"] = task
    with pytest.raises(ParamsError, match=f"not yet supported for task {task}: the task itself"):
        validate_params(default_params)


def test_check_refuses_multilabel_transfer_before_any_stage_runs(default_params):
    default_params["train"]["multilabel"] = ["is_even"]
    default_params["train"]["transfer"]["init_from"] = {"lenet5": "runs:/abc"}
    with pytest.raises(ParamsError, match="not yet supported for task classification: "):
        validate_params(default_params)


def test_classification_head_is_a_softmax_over_classes_or_a_sigmoid_per_label():
    store = tiny_store()
    softmax = task_head("classification")(store, TrainParams())
    assert (softmax.outputs, softmax.targets) == (2, None)
    assert isinstance(softmax.objective, SingleLabel)
    store.manifest["label.a"] = ["1", "0", ""] * 16
    sigmoid = task_head("classification")(store, TrainParams(multilabel=["a"]))
    assert sigmoid.outputs == 1 and isinstance(sigmoid.objective, MultiLabel)
    assert np.isnan(sigmoid.targets[2, 0]) and sigmoid.targets[0, 0] == 1.0


def test_classification_error_per_example_is_a_wrong_arg_max():
    store = tiny_store()
    rows = np.arange(len(store.manifest))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    scores = task_scorer("classification")(
        model, store, rows, EvaluateParams(), torch.device("cpu")
    )
    assert task_scorer("classification") is score
    predicted = scores.outputs.argmax(axis=1)
    np.testing.assert_array_equal(scores.wrong, predicted != store.label_indices(rows))
    dev = scores.split == "dev"
    assert scores.per_split["dev"]["error"] == pytest.approx(scores.wrong[dev].mean())
    assert len(scores.predictions) == len(rows)


def test_every_task_lists_report_sections_the_report_knows():
    for spec in SPECS.values():
        assert set(spec.report_sections) <= set(SECTIONS), spec.name
    assert task_spec("classification").report_sections == tuple(SECTIONS)


def _headings(sections: tuple[str, ...], tmp_path: Path) -> list[str]:
    arch = load(write_fake_inputs(tmp_path / "inputs")).architectures[0]
    figure = RenderedFigure("f.png", "f", b"")
    figures = ArchitectureFigures(figure, figure, class_errors=figure, ceilings=figure)
    blocks = detail_blocks(arch, figures, "analysis", sections)
    return [block.text for block in blocks if isinstance(block, Heading)]


def test_report_shows_only_the_sections_its_task_lists(tmp_path: Path):
    every = _headings(task_spec("classification").report_sections, tmp_path)
    fewer = _headings(("error_analysis", "mismatch"), tmp_path)
    assert "Per class" in every and "Per class" not in fewer
    assert fewer[0] == "Error analysis" and "Error analysis" in every


def test_unknown_report_section_is_an_error(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown report sections"):
        _headings(("per_box",), tmp_path)
