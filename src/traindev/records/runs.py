"""Run records: what differs between two runs of the same inputs (wall times, latency, MLflow
run ids, comparisons with earlier MLflow runs).

They are written beside, never inside, DVC outputs (paths.RUNS, git- and DVC-ignored), so a
fresh clone's `dvc repro` reproduces every hashed output and committed metric byte for byte.
MLflow holds the same figures; these files are for scripts and for readers without the UI.
"""

from __future__ import annotations

from traindev import paths
from traindev.records.base import NanFloat, Record
from traindev.records.io import read_record
from traindev.records.selection import CandidateRow, SelectionRecord


class TrainingRun(Record):
    """reports/runs/<arch>/training.json, written by `traindev train`."""

    architecture: str
    run_id: str
    train_seconds: float  # inside the optimization loop only
    examples_per_second: float
    epoch_seconds: list[float]
    resumed_from_epoch: int | None  # the checkpoint this run resumed after, if any


def training_run_id(architecture: str) -> str | None:
    """The MLflow run the train stage logged `architecture` to, from its run record; None when
    there is none (a model pulled from a DVC remote was trained elsewhere): later stages then
    log to a new run of the same name."""
    path = paths.training_run_file(architecture)
    return read_record(path, TrainingRun).run_id if path.is_file() else None


class MetricChange(Record):
    """One row or gap of the bias / variance table, now and in the previous run."""

    name: str
    label: str
    previous: NanFloat
    current: NanFloat
    delta: NanFloat
    interval: tuple[NanFloat, NanFloat] | None
    moved: bool  # False: the change is within the noise of the two measurements
    status: str


class PreviousRun(Record):
    """How this run's evaluation compares with the previous MLflow run of the architecture."""

    run_id: str
    started: str
    same_split: bool
    confidence: float
    summary: str
    changes: list[MetricChange]


class Latency(Record):
    """Batch-1 inference time of one model, measured by `traindev evaluate`."""

    latency_ms: float  # the `quantile` of `repeats` timed forward passes
    quantile: float
    # The spread of the same timings: how much the load at the time moved them. A median or
    # p90 far above latency_ms says other work shared the cores during the measurement.
    median_ms: float
    p90_ms: float
    max_ms: float
    repeats: int
    warmup: int
    threads: int  # torch intra-op threads during the measurement
    device: str


class EvaluationRun(Record):
    """reports/runs/<arch>/evaluation.json, written by `traindev evaluate`."""

    architecture: str
    run_id: str | None
    latency: Latency
    previous: PreviousRun | None  # None: no earlier evaluated run of the architecture


class RunCandidate(CandidateRow):
    run_id: str | None
    started: str | None  # ISO 8601 start of an earlier MLflow run


class Champion(Record):
    registered_model: str
    alias: str
    version: str
    uri: str


class Competition(SelectionRecord):
    """A choice among MLflow runs: the candidates with their run ids and every measured figure
    (latency included)."""

    candidates: list[RunCandidate]
    winner: RunCandidate | None


class SelectionRun(Competition):
    """reports/runs/selection.json: the full competition (this run and earlier MLflow runs)
    and the registry alias it moved."""

    champion: Champion | None
    champion_note: str
