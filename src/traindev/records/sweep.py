"""sweeps/<name>.json: a random-search sweep's trials and the winner among them.

Written by pipeline/sweep.py beside the project (not a DVC output) and logged to the sweep's
MLflow parent run.
"""

from __future__ import annotations

from typing import Any, Literal

from traindev.records.base import Record
from traindev.records.runs import Competition


class SweepTrial(Record):
    name: str
    round: Literal["coarse", "fine"]
    config: dict[str, Any]  # dotted params key -> value


class FailedTrial(Record):
    trial: str
    error: str


class SweepWinner(Record):
    model: str  # the candidate's name, <architecture>@<trial>
    run_id: str | None
    trial: str | None
    config: dict[str, Any] | None
    optimizing: str  # the select.optimizing metric ...
    value: float | None  # ... and the winner's value of it


class SweepSummary(Record):
    sweep: str
    mlflow_run_id: str  # the sweep's parent run; each trial's runs nest under it
    winner: SweepWinner | None
    explanation: str
    trials: list[SweepTrial]
    failed: list[FailedTrial]
    fine_region: list[str]  # the knobs' ranges the fine round sampled
    selection: Competition
