"""Model selection: one optimizing metric, satisficing thresholds, the `champion` alias."""

from traindev.selection.candidates import (
    Candidate,
    candidate_from_files,
    earlier_candidates,
    selection_metrics,
)
from traindev.selection.champion import selection_tags, set_champion
from traindev.selection.rules import (
    Selection,
    SelectionRow,
    Threshold,
    better_direction,
    select_from_params,
    select_model,
)

__all__ = [
    "Candidate",
    "Selection",
    "SelectionRow",
    "Threshold",
    "better_direction",
    "candidate_from_files",
    "earlier_candidates",
    "select_from_params",
    "select_model",
    "selection_metrics",
    "selection_tags",
    "set_champion",
]
