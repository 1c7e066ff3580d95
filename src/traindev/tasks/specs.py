"""`task` in params -> its TaskSpec, importing no task's training or evaluation code: what
every command checks (`traindev.params_file`) and the report reads its sections from."""

from __future__ import annotations

from traindev.config import Params, TaskName
from traindev.tasks.base import TaskNotSupported, TaskSpec
from traindev.tasks.classification.spec import SPEC as CLASSIFICATION
from traindev.tasks.detection.spec import SPEC as DETECTION

SPECS: dict[str, TaskSpec] = {spec.name: spec for spec in (CLASSIFICATION, DETECTION)}

# Named in params (config.TaskName) but not built yet.
PLANNED = {
    "segmentation": "the task itself (a mask store, U-Net, per-image error); see docs/tasks.md",
    "verification": "the task itself (pairs, an encoder, the pair error at tau); see docs/tasks.md",
}


def task_spec(name: TaskName) -> TaskSpec:
    """The facts of task `name`; TaskNotSupported for a task not built yet."""
    if name not in SPECS:
        raise TaskNotSupported(f"not yet supported for task {name}: {PLANNED[name]}")
    return SPECS[name]


def check_supported(params: Params) -> None:
    """Raise TaskNotSupported naming everything `params` asks that its task cannot run yet."""
    missing = task_spec(params.task).unsupported(params)
    if missing:
        raise TaskNotSupported(f"not yet supported for task {params.task}: {'; '.join(missing)}")
