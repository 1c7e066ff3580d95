"""The report stage's inputs: the records other stages wrote, validated on read.

Each JSON file is read as its model from traindev.records (a bad or stale file is a
ReportInputError naming the file and the field). What is left here is what no record holds:
the dev confusion matrix (a CSV) and the thumbnails an analysis names, read from disk.

Thumbnails are the one soft input: a thumbnail that is missing or not a PNG does not stop the
report (a gallery with a gap is still worth reading); it is recorded in
`Analysis.missing_thumbnails`, shown as a placeholder, and listed in the report.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from traindev import paths
from traindev.data.augmentation import AugmentationPreview
from traindev.records import MissingReportInputError, ReportInputError, read_record
from traindev.records.analysis import AnalysisRecord
from traindev.records.base import Interval
from traindev.records.diagnosis import DiagnosisRecord as Diagnosis
from traindev.records.metrics import MetricsRecord
from traindev.records.selection import SelectionRecord
from traindev.records.source_ablation import SourceAblationRecord
from traindev.records.split import SplitSummary
from traindev.records.synthesis import SynthesisDiversity
from traindev.records.training import TrainingRecord

SPLITS: tuple[str, ...] = ("train", "train_dev", "dev", "test")
GAP_NAMES: tuple[str, ...] = ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

__all__ = [
    "GAP_NAMES",
    "SPLITS",
    "Analysis",
    "ArchitectureResult",
    "ConfusionMatrix",
    "Diagnosis",
    "Interval",
    "MissingReportInputError",
    "ReportInputError",
    "ReportInputs",
    "load_architecture",
]


class Analysis(AnalysisRecord):
    """reports/analysis/<arch>.json plus the thumbnails it names, read as PNG bytes."""

    thumbnails: dict[str, bytes] = Field(default_factory=dict, exclude=True)
    missing_thumbnails: tuple[str, ...] = Field(default=(), exclude=True)  # "path (reason)"


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
    metrics: MetricsRecord  # splits with nothing scored left out
    diagnosis: Diagnosis
    confusion_dev: ConfusionMatrix  # multi-label: a row per label, columns tn fp fn tp
    analysis: Analysis


@dataclass(frozen=True)
class ReportInputs:
    split: SplitSummary
    architectures: tuple[ArchitectureResult, ...]
    selection: SelectionRecord
    analysis_dir: Path  # where the sheets and thumbnails live; the report links there
    # The train split's augmentation drawn on a few training images; None: not computed.
    augmentation: AugmentationPreview | None = None
    synthesis: SynthesisDiversity | None = None  # None: no diversity report
    # `traindev source-ablation` records of the listed architectures that have one
    source_ablations: tuple[SourceAblationRecord, ...] = ()
    split_dvc_md5: str | None = None  # DVC's hash of data/split now: flags a stale ablation


def load_source_ablations(
    directory: Path, architectures: list[str]
) -> tuple[SourceAblationRecord, ...]:
    """<directory>/<arch>.json for each architecture that has one (the ablation is opt-in)."""
    records = []
    for name in architectures:
        path = Path(directory) / f"{name}.json"
        if not path.is_file():
            continue
        record = read_record(path, SourceAblationRecord)
        if record.architecture != name:
            raise ReportInputError(
                path, f"architecture is {record.architecture!r}, expected {name!r}"
            )
        records.append(record)
    return tuple(records)


def load_synthesis_diversity(path: Path) -> SynthesisDiversity | None:
    """reports/synthesis/diversity.json; None when the synthesize stage wrote none."""
    return read_record(path, SynthesisDiversity) if Path(path).is_file() else None


def load_metrics(path: Path) -> MetricsRecord:
    """reports/metrics/<arch>.json; a split with nothing scored ({"count": 0}) is left out, so
    the report reads it as missing rather than as a row of blanks."""
    metrics = read_record(path, MetricsRecord)
    scored = {name: split for name, split in metrics.splits.items() if split.error is not None}
    return metrics.model_copy(update={"splits": scored})


def load_analysis(path: Path, directory: Path, architecture: str) -> Analysis:
    """reports/analysis/<arch>.json and, from `directory`, every thumbnail it names."""
    record = read_record(path, AnalysisRecord)
    if record.architecture != architecture:
        raise ReportInputError(
            path,
            f"architecture is {record.architecture!r}, expected {architecture!r}; "
            f"re-run `dvc repro analyze@{architecture}`",
        )
    images: dict[str, bytes] = {}
    missing: list[str] = []
    for relative in record.thumbnail_paths():
        outcome = _read_thumbnail(directory, relative)
        if isinstance(outcome, bytes):
            images[relative] = outcome
        else:
            missing.append(f"{directory / relative} ({outcome})")
    return Analysis.model_construct(
        **dict(record), thumbnails=images, missing_thumbnails=tuple(missing)
    )


def _read_thumbnail(directory: Path, relative: str) -> bytes | str:
    """The PNG bytes, or why they cannot be shown (the caller lists it rather than failing)."""
    try:
        data = (directory / relative).read_bytes()
    except FileNotFoundError:
        return "file not found"
    except OSError as error:
        return f"cannot read: {error.strerror or error}"
    return data if data.startswith(PNG_SIGNATURE) else "not a PNG file"


def load_confusion(path: Path) -> ConfusionMatrix:
    """evaluation_dir/<arch>/confusion_dev.csv: a header row label,<class>,..., then counts.

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
        true_labels=tuple(true_labels), predicted_labels=tuple(header[1:]), counts=tuple(counts)
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
    name: str, models_dir: Path, evaluation_dir: Path, metrics_dir: Path, analysis_dir: Path
) -> ArchitectureResult:
    """Gather one architecture's five input files (and the thumbnails its analysis names)."""
    return ArchitectureResult(
        name=name,
        training=read_record(models_dir / name / paths.TRAINING_FILE, TrainingRecord),
        metrics=load_metrics(metrics_dir / f"{name}.json"),
        diagnosis=read_record(evaluation_dir / name / paths.DIAGNOSIS_FILE, Diagnosis),
        confusion_dev=load_confusion(evaluation_dir / name / paths.CONFUSION_FILE),
        analysis=load_analysis(analysis_dir / f"{name}.json", analysis_dir / name, name),
    )
