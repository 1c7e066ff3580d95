"""`task` -> its scorer (per-example error and per-split metrics): what evaluate asks."""

from __future__ import annotations

from traindev.config import TaskName
from traindev.tasks.base import Scorer
from traindev.tasks.specs import task_spec


def task_scorer(name: TaskName) -> Scorer:
    """`<task>/scoring.py`'s `score`; TaskNotSupported (via the spec) for a task not built."""
    task_spec(name)
    if name == "classification":
        from traindev.tasks.classification.scoring import score

        return score
    if name == "detection":
        from traindev.tasks.detection.scoring import score

        return score
    raise AssertionError(f"task {name!r} passed `traindev check` without a scorer")
