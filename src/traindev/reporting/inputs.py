"""The report stage's inputs, read from the files other stages wrote, as typed dataclasses.

Parsing is strict about shape (so a stale or hand-edited file fails here, with the file and the
key named, rather than as a KeyError deep inside rendering) and lenient about what is optional:
a split that was empty may be missing from the summary and from the per-split metrics.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPLITS: tuple[str, ...] = ("train", "train_dev", "dev", "test")
GAP_NAMES: tuple[str, ...] = ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting")


class ReportInputError(ValueError):
    """An input file is missing or malformed; the message starts with the file's path."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


class MissingReportInputError(ReportInputError, FileNotFoundError):
    """An input file does not exist (usually: the stage that writes it has not run)."""


@dataclass(frozen=True)
class SplitSummary:
    """Example counts per split, domain and class, as the split stage reported them."""

    counts: dict[str, dict[str, dict[str, int]]]
    totals: dict[str, int]
    target_domain: str
    unused_target: int
    duplicates_dropped: int


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    loss: float
    train_error: float
    train_dev_error: float
    dev_error: float
    lr: float


@dataclass(frozen=True)
class TrainingRecord:
    """What the training stage measured about one architecture's run."""

    architecture: str
    run_id: str
    parameters: int
    train_seconds: float
    device: str
    epochs: int
    examples_per_second: float
    history: tuple[EpochRecord, ...]
    flops_per_example: int | None = None


@dataclass(frozen=True)
class SplitMetrics:
    error: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    count: int


@dataclass(frozen=True)
class BiasVariance:
    """The five error levels and the four gaps between consecutive levels (gaps may be < 0)."""

    human_level_error: float
    train_error: float
    train_dev_error: float
    dev_error: float
    test_error: float
    avoidable_bias: float
    variance: float
    data_mismatch: float
    dev_overfitting: float


@dataclass(frozen=True)
class ArchitectureMetrics:
    splits: dict[str, SplitMetrics]
    bias_variance: BiasVariance
    latency_ms: float | None = None  # batch-1 inference on the evaluating device


@dataclass(frozen=True)
class Gap:
    name: str
    label: str
    value: float
    between: tuple[str, str]
    matters: bool
    knobs: tuple[str, ...]


@dataclass(frozen=True)
class Diagnosis:
    gaps: tuple[Gap, ...]
    dominant: str | None
    summary: str

    def gap(self, name: str) -> Gap | None:
        """The gap called `name`, or None when the evaluation stage did not report it."""
        return next((gap for gap in self.gaps if gap.name == name), None)


@dataclass(frozen=True)
class ConfusionMatrix:
    """counts[i][j]: examples of true class true_labels[i] predicted as predicted_labels[j]."""

    true_labels: tuple[str, ...]
    predicted_labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class ArchitectureResult:
    """Everything the report shows about one architecture."""

    name: str
    training: TrainingRecord
    metrics: ArchitectureMetrics
    diagnosis: Diagnosis
    confusion_dev: ConfusionMatrix


@dataclass(frozen=True)
class ReportInputs:
    split: SplitSummary
    architectures: tuple[ArchitectureResult, ...]


# ---------------------------------------------------------------------------------------------
# Field readers: each names the file and the dotted key when a value has the wrong shape.


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingReportInputError(path, "file not found") from None
    except OSError as error:
        raise ReportInputError(path, f"cannot read: {error}") from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportInputError(path, f"not valid JSON: {error}") from error


def _field(obj: Any, key: str, path: Path, where: str) -> Any:
    if not isinstance(obj, Mapping):
        raise ReportInputError(path, f"{where or 'top level'}: expected an object")
    if key not in obj:
        raise ReportInputError(path, f"missing key {_join(where, key)!r}")
    return obj[key]


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _mapping(value: Any, path: Path, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ReportInputError(path, f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, path: Path, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ReportInputError(path, f"{where}: expected a list, got {type(value).__name__}")
    return value


def _str(value: Any, path: Path, where: str) -> str:
    if not isinstance(value, str):
        raise ReportInputError(path, f"{where}: expected a string, got {value!r}")
    return value


def _float(value: Any, path: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportInputError(path, f"{where}: expected a number, got {value!r}")
    return float(value)


def _int(value: Any, path: Path, where: str) -> int:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReportInputError(path, f"{where}: expected an integer, got {value!r}")
    return value


def _bool(value: Any, path: Path, where: str) -> bool:
    if not isinstance(value, bool):
        raise ReportInputError(path, f"{where}: expected true or false, got {value!r}")
    return value


def _get_str(obj: Any, key: str, path: Path, where: str = "") -> str:
    return _str(_field(obj, key, path, where), path, _join(where, key))


def _get_float(obj: Any, key: str, path: Path, where: str = "") -> float:
    return _float(_field(obj, key, path, where), path, _join(where, key))


def _get_int(obj: Any, key: str, path: Path, where: str = "") -> int:
    return _int(_field(obj, key, path, where), path, _join(where, key))


# ---------------------------------------------------------------------------------------------
# One loader per file format.


def load_split_summary(path: Path) -> SplitSummary:
    """Read split_dir/summary.json."""
    data = _mapping(_read_json(path), path, "top level")
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for split, domains in _mapping(_field(data, "counts", path, ""), path, "counts").items():
        where = f"counts.{split}"
        counts[split] = {
            domain: {
                label: _int(count, path, f"{where}.{domain}.{label}")
                for label, count in _mapping(classes, path, f"{where}.{domain}").items()
            }
            for domain, classes in _mapping(domains, path, where).items()
        }
    totals = {
        split: _int(total, path, f"totals.{split}")
        for split, total in _mapping(_field(data, "totals", path, ""), path, "totals").items()
    }
    return SplitSummary(
        counts=counts,
        totals=totals,
        target_domain=_get_str(data, "target_domain", path),
        unused_target=_get_int(data, "unused_target", path),
        duplicates_dropped=_get_int(data, "duplicates_dropped", path),
    )


def _epoch(entry: Any, path: Path, where: str) -> EpochRecord:
    return EpochRecord(
        epoch=_get_int(entry, "epoch", path, where),
        loss=_get_float(entry, "loss", path, where),
        train_error=_get_float(entry, "train_error", path, where),
        train_dev_error=_get_float(entry, "train_dev_error", path, where),
        dev_error=_get_float(entry, "dev_error", path, where),
        lr=_get_float(entry, "lr", path, where),
    )


def load_training(path: Path) -> TrainingRecord:
    """Read models_dir/<arch>/training.json."""
    data = _mapping(_read_json(path), path, "top level")
    history = _list(_field(data, "history", path, ""), path, "history")
    return TrainingRecord(
        architecture=_get_str(data, "architecture", path),
        run_id=_get_str(data, "run_id", path),
        parameters=_get_int(data, "parameters", path),
        train_seconds=_get_float(data, "train_seconds", path),
        device=_get_str(data, "device", path),
        epochs=_get_int(data, "epochs", path),
        examples_per_second=_get_float(data, "examples_per_second", path),
        history=tuple(_epoch(entry, path, f"history[{i}]") for i, entry in enumerate(history)),
        flops_per_example=(
            _get_int(data, "flops_per_example", path) if "flops_per_example" in data else None
        ),
    )


def _split_metrics(entry: Any, path: Path, where: str) -> SplitMetrics:
    return SplitMetrics(
        error=_get_float(entry, "error", path, where),
        accuracy=_get_float(entry, "accuracy", path, where),
        precision=_get_float(entry, "precision", path, where),
        recall=_get_float(entry, "recall", path, where),
        f1=_get_float(entry, "f1", path, where),
        count=_get_int(entry, "count", path, where),
    )


def load_metrics(path: Path) -> ArchitectureMetrics:
    """Read metrics_dir/<arch>.json."""
    data = _mapping(_read_json(path), path, "top level")
    splits = {
        split: _split_metrics(entry, path, f"splits.{split}")
        for split, entry in _mapping(_field(data, "splits", path, ""), path, "splits").items()
    }
    bv = _mapping(_field(data, "bias_variance", path, ""), path, "bias_variance")
    bias_variance = BiasVariance(
        **{
            name: _get_float(bv, name, path, "bias_variance")
            for name in BiasVariance.__dataclass_fields__
        }
    )
    inference = data.get("inference")
    latency = (
        _get_float(_mapping(inference, path, "inference"), "latency_ms", path, "inference")
        if inference is not None
        else None
    )
    return ArchitectureMetrics(splits=splits, bias_variance=bias_variance, latency_ms=latency)


def _gap(entry: Any, path: Path, where: str) -> Gap:
    between = _list(_field(entry, "between", path, where), path, f"{where}.between")
    if len(between) != 2:
        raise ReportInputError(path, f"{where}.between: expected two level names, got {between!r}")
    knobs = _list(_field(entry, "knobs", path, where), path, f"{where}.knobs")
    return Gap(
        name=_get_str(entry, "name", path, where),
        label=_get_str(entry, "label", path, where),
        value=_get_float(entry, "value", path, where),
        between=(
            _str(between[0], path, f"{where}.between[0]"),
            _str(between[1], path, f"{where}.between[1]"),
        ),
        matters=_bool(_field(entry, "matters", path, where), path, f"{where}.matters"),
        knobs=tuple(_str(knob, path, f"{where}.knobs[{i}]") for i, knob in enumerate(knobs)),
    )


def load_diagnosis(path: Path) -> Diagnosis:
    """Read evaluation_dir/<arch>/diagnosis.json."""
    data = _mapping(_read_json(path), path, "top level")
    gaps = _list(_field(data, "gaps", path, ""), path, "gaps")
    dominant = _field(data, "dominant", path, "")
    return Diagnosis(
        gaps=tuple(_gap(entry, path, f"gaps[{i}]") for i, entry in enumerate(gaps)),
        dominant=None if dominant is None else _str(dominant, path, "dominant"),
        summary=_get_str(data, "summary", path),
    )


def load_confusion(path: Path) -> ConfusionMatrix:
    """Read evaluation_dir/<arch>/confusion_dev.csv (first column: true label).

    Parsed with the csv module rather than pandas so that class names stay strings exactly as
    written (pandas would turn "0".."9" into integers in the index but not in the header).
    """
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except FileNotFoundError:
        raise MissingReportInputError(path, "file not found") from None
    except (OSError, csv.Error, UnicodeDecodeError) as error:
        raise ReportInputError(path, f"cannot read CSV: {error}") from error
    if not rows or len(rows[0]) < 2:
        raise ReportInputError(path, "expected a header row: label,<class>,<class>,...")
    header, body = rows[0], rows[1:]
    predicted = tuple(header[1:])
    true_labels: list[str] = []
    counts: list[tuple[int, ...]] = []
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ReportInputError(
                path, f"line {line}: expected {len(header)} cells like the header, got {len(row)}"
            )
        true_labels.append(row[0])
        counts.append(tuple(_count(cell, path, line) for cell in row[1:]))
    return ConfusionMatrix(
        true_labels=tuple(true_labels), predicted_labels=predicted, counts=tuple(counts)
    )


def _count(cell: str, path: Path, line: int) -> int:
    try:
        value = float(cell)
    except ValueError:
        raise ReportInputError(path, f"line {line}: {cell!r} is not a count") from None
    if not math.isfinite(value) or value < 0 or not value.is_integer():
        raise ReportInputError(path, f"line {line}: {cell!r} is not a non-negative integer count")
    return int(value)


def load_architecture(
    name: str, models_dir: Path, evaluation_dir: Path, metrics_dir: Path
) -> ArchitectureResult:
    """Gather one architecture's four input files."""
    return ArchitectureResult(
        name=name,
        training=load_training(models_dir / name / "training.json"),
        metrics=load_metrics(metrics_dir / f"{name}.json"),
        diagnosis=load_diagnosis(evaluation_dir / name / "diagnosis.json"),
        confusion_dev=load_confusion(evaluation_dir / name / "confusion_dev.csv"),
    )
