"""What the detection task is (traindev.tasks.base.TaskSpec); conventions in __init__.py.

Detection is wired through the stages part by part as its modules land (docs/tasks.md); until
a part is wired, NOT_WIRED names it and `traindev check` refuses `task: detection` with that
list, so no stage ever writes a half result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from traindev.tasks.base import TaskSpec

if TYPE_CHECKING:
    from traindev.config import Params

# What the stages cannot run yet for detection, in pipeline order.
NOT_WIRED = (
    "training a detector (train.architectures are classifiers)",
    "analyze's detection error-analysis sheet and mismatch locator, and the report's "
    "detection sections",
)


def unsupported(params: Params) -> list[str]:
    del params  # every detection run needs every stage
    return list(NOT_WIRED)


SPEC = TaskSpec(
    name="detection",
    targets="a box table beside the manifest: id, object, label, x_min, y_min, x_max, y_max",
    example_error="an image with a true object lacking a same-class detection at IoU >= 0.5, "
    "or a detection matching no true object (after the p_c threshold and NMS)",
    error_types=("classification", "localization", "both", "duplicate", "background", "missed"),
    report_sections=("error_analysis", "label_issues", "mismatch"),
    unsupported=unsupported,
)
