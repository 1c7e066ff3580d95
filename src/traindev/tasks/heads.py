"""`task` -> its head (output size, targets, loss): what the train stage asks."""

from __future__ import annotations

from traindev.config import TaskName
from traindev.tasks.base import HeadBuilder
from traindev.tasks.specs import task_spec


def task_head(name: TaskName) -> HeadBuilder:
    """`<task>/head.py`'s `head`; TaskNotSupported (via the spec) for a task not built."""
    task_spec(name)
    if name == "classification":
        from traindev.tasks.classification.head import head

        return head
    raise AssertionError(f"task {name!r} passed `traindev check` without a head")
