"""reports/scores/<arch>.json: the figures `dvc metrics show`, `dvc metrics diff` and
`dvc exp show` compare, one flat file per architecture (the only files dvc.yaml declares as
`metrics`).

DVC reads every key of a metrics file as a column, and fails on lists: a metrics file that
holds a whole record (per-class errors, sheets, label issues) prints `DVC failed to load some
metrics` and a table hundreds of columns wide. So this record is a handful of scalars a user
compares between experiments: the error on each split, the notes' four gaps, the dev F1, and
the load-independent satisficing metrics (parameters, FLOPs); human-level error is a param,
not a result, and stays in params.yaml. The full records it is
read from stay where they were, as plain outputs (reports/metrics/<arch>.json,
data/evaluation/<arch>/diagnosis.json, data/models/<arch>/training.json).
"""

from __future__ import annotations

from typing import ClassVar

from traindev.records.base import NanFloat, Record
from traindev.records.diagnosis import DiagnosisRecord
from traindev.records.metrics import MetricsRecord
from traindev.records.training import TrainingRecord

GAP_NAMES = ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting")


class ScoresRecord(Record):
    """Flat scalars only (tests/records pins it): keys are `dvc exp show` columns."""

    OMIT_NONE: ClassVar[bool] = True  # a figure not measured is absent, as DVC shows it

    train_error: NanFloat
    train_dev_error: NanFloat
    dev_error: NanFloat
    test_error: NanFloat
    # The gaps between consecutive levels, as the diagnosis judged them (negative gaps kept).
    avoidable_bias: NanFloat | None = None
    variance: NanFloat | None = None
    data_mismatch: NanFloat | None = None
    dev_overfitting: NanFloat | None = None
    dev_f1: float | None = None
    parameters: int
    flops_per_example: int | None = None

    @classmethod
    def from_records(
        cls, metrics: MetricsRecord, diagnosis: DiagnosisRecord, training: TrainingRecord
    ) -> ScoresRecord:
        """The errors from the metrics record, the gaps from the diagnosis record, the model's
        size from its training record: each figure read from the one file that owns it."""
        table = metrics.bias_variance
        gaps = {name: gap.value for name in GAP_NAMES if (gap := diagnosis.gap(name))}
        return cls(
            train_error=table.train_error,
            train_dev_error=table.train_dev_error,
            dev_error=table.dev_error,
            test_error=table.test_error,
            **gaps,
            dev_f1=None if (dev := metrics.splits.get("dev")) is None else dev.f1,
            parameters=training.parameters,
            flops_per_example=training.flops_per_example,
        )
