"""reports/selection.json: the choice among this pipeline's architectures (a DVC metric).

Only facts that are a function of the stage's inputs: the thresholds, each candidate's
stable measurements, which thresholds it missed, its rank and the explanation. A threshold
on a measurement of the machine (latency_ms, train_seconds) is listed under
`run_time_thresholds` and not applied here: under load the same model passed and failed it
on consecutive runs, which flipped this committed file. The run record
(records.runs.SelectionRun) applies every threshold, with the measured latency, MLflow run
ids, earlier MLflow runs that competed and the registry's champion version; it is the choice
that moves the alias.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from traindev.records.base import Record

Source = Literal["this run", "earlier run", "sweep trial"]


class Threshold(Record):
    metric: str
    max: float | None
    min: float | None
    description: str  # as the user would write it: "latency_ms <= 100"

    @model_validator(mode="after")
    def _bounded(self) -> Threshold:
        if self.max is None and self.min is None:
            raise ValueError("a threshold needs a max, a min or both")
        return self


class CandidateRow(Record):
    name: str
    source: Source
    value: float | None  # the optimizing metric; None when not measured
    satisfied: bool  # meets every threshold (and has the optimizing metric)
    failed: list[str]  # one reason per threshold missed
    rank: int | None  # 1 = winner, among satisfying candidates only
    measured: dict[str, float | None]  # the metrics the decision looked at


class SelectionRecord(Record):
    optimizing: str
    goal: Literal["minimize", "maximize"]
    thresholds: list[Threshold]  # the ones applied
    candidates: list[CandidateRow]  # ranked satisfying candidates first, then the others
    winner: CandidateRow | None
    excluded_by: dict[str, int]  # threshold description -> candidates it excluded
    explanation: str
    warnings: list[str]
    # Thresholds on machine measurements, applied only in the run record (see above).
    run_time_thresholds: list[Threshold] = Field(default_factory=list)
