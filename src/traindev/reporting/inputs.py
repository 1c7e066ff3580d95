"""The report stage's inputs, read from the files other stages wrote, as typed dataclasses.

Parsing is strict about shape (so a stale or hand-edited file fails here, with the file and the
key named, rather than as a KeyError deep inside rendering) and lenient about what is optional:
a split that was empty may be missing from the summary and from the per-split metrics, and keys
that later versions of a file added (diagnosis intervals, per-class gaps, weighted errors) may be
absent from files written before them. JSON has no NaN, so writers put null where a figure is
undefined (an empty split, a class with no examples): new fields read that null back as NaN.

Thumbnails are the one soft input: a thumbnail that is missing or not a PNG does not stop the
report (a gallery with a gap is still worth reading); it is recorded in
`Analysis.missing_thumbnails`, shown as a placeholder, and listed in the report.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from traindev.data.augmentation import AugmentationPreview

SPLITS: tuple[str, ...] = ("train", "train_dev", "dev", "test")
GAP_NAMES: tuple[str, ...] = ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

T = TypeVar("T")
Interval = tuple[float, float]  # [low, high]; an end the writer could not compute is NaN


class ReportInputError(ValueError):
    """An input file is missing or malformed; the message starts with the file's path."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


class MissingReportInputError(ReportInputError, FileNotFoundError):
    """An input file does not exist (usually: the stage that writes it has not run)."""


@dataclass(frozen=True)
class SetConfidence:
    """How precisely a dev or test set of this size measures an error near the expected one."""

    split: str
    examples: int
    half_width: float  # 95% normal half-width; NaN for an empty set
    resolvable_difference: float  # dev: smallest error difference it tells apart; test: NaN
    examples_needed: int
    big_enough: bool


@dataclass(frozen=True)
class SplitConfidence:
    expected_error: float
    min_resolvable_difference: float
    sets: tuple[SetConfidence, ...]


@dataclass(frozen=True)
class SplitSummary:
    """Example counts per split, domain and class, as the split stage reported them."""

    counts: dict[str, dict[str, dict[str, int]]]
    totals: dict[str, int]
    target_domain: str
    unused_target: int
    duplicates_dropped: int
    # Written by newer split stages only; an older summary reads back without them.
    confidence: SplitConfidence | None = None
    warnings: tuple[str, ...] = ()
    near_duplicates_dropped: int | None = None  # None: the check was off


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
    weighted_error: float | None = None  # error with the evaluate stage's class / tag weights
    class_error: dict[str, float] = field(default_factory=dict)  # per class; NaN if no examples
    # Multi-task models: per task, over the labels present (a task without any is absent,
    # except from task_count, which says how many labels each task had in the split).
    task_error: dict[str, float] = field(default_factory=dict)
    task_count: dict[str, int] = field(default_factory=dict)
    task_precision: dict[str, float] = field(default_factory=dict)
    task_recall: dict[str, float] = field(default_factory=dict)
    task_f1: dict[str, float] = field(default_factory=dict)


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
    tasks: tuple[str, ...] = ()  # multi-task model: its tasks (errors pool their labels)


@dataclass(frozen=True)
class Gap:
    name: str
    label: str
    value: float
    between: tuple[str, str]
    matters: bool
    knobs: tuple[str, ...]
    interval: Interval | None = None
    within_noise: bool = False  # the interval says the gap could be sampling noise


@dataclass(frozen=True)
class ClassGap:
    value: float
    interval: Interval | None
    matters: bool
    within_noise: bool


@dataclass(frozen=True)
class ClassDiagnosis:
    """One class's error levels and gaps; counts keyed by split, errors by level name."""

    label: str
    counts: dict[str, int]
    errors: dict[str, float]
    gaps: dict[str, ClassGap]
    dominant: str | None


@dataclass(frozen=True)
class MetricChange:
    name: str
    label: str
    previous: float
    current: float
    delta: float
    moved: bool  # False: the change is within the noise of the two measurements
    # "moved", "within noise", "no previous value" or "not measured now" (older files: "")
    status: str = ""


@dataclass(frozen=True)
class PreviousRun:
    """How this run compares with the previous run of the same architecture."""

    run_id: str
    started: str
    same_split: bool
    summary: str
    changes: tuple[MetricChange, ...]


@dataclass(frozen=True)
class Diagnosis:
    gaps: tuple[Gap, ...]
    dominant: str | None
    summary: str
    confidence: float | None = None  # of every interval below, e.g. 0.95
    row_intervals: dict[str, Interval | None] = field(default_factory=dict)
    gap_intervals: dict[str, Interval | None] = field(default_factory=dict)
    per_class: tuple[ClassDiagnosis, ...] = ()
    previous: PreviousRun | None = None
    per_task: tuple[ClassDiagnosis, ...] = ()  # multi-task: each task's levels and gaps

    def gap(self, name: str) -> Gap | None:
        """The gap called `name`, or None when the evaluation stage did not report it."""
        return next((gap for gap in self.gaps if gap.name == name), None)

    def gap_interval(self, name: str) -> Interval | None:
        """The gap's own interval, else the one under intervals.gaps (writers may fill either)."""
        gap = self.gap(name)
        if gap is not None and gap.interval is not None:
            return gap.interval
        return self.gap_intervals.get(name)


@dataclass(frozen=True)
class ConfusionMatrix:
    """counts[i][j]: examples of true class true_labels[i] predicted as predicted_labels[j]."""

    true_labels: tuple[str, ...]
    predicted_labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Sheet:
    """One error-analysis sheet the analyze stage wrote (file names relative to its directory)."""

    csv: str
    html: str
    rows: int


@dataclass(frozen=True)
class CategoryCount:
    category: str
    count: int
    percent_of_errors: float
    ceiling: float  # the most the dev error can fall by fixing every error of this category


@dataclass(frozen=True)
class ErrorReview:
    """The user's reviewed error sheet, tallied; rows keep the analyze stage's order."""

    path: str
    reviewed: int
    table: tuple[CategoryCount, ...]
    stale_ids: tuple[str, ...]  # reviewed rows that are no longer errors
    unknown_ids: tuple[str, ...]  # reviewed rows that are not dev examples at all


@dataclass(frozen=True)
class CorrectReview:
    path: str
    reviewed: int
    incorrectly_labeled: int


@dataclass(frozen=True)
class LabelImpact:
    """Ng's arithmetic: how much of the dev error the suspected labels account for."""

    dev_error: float
    error_from_labels: float
    error_other: float
    share_of_errors: float
    error_without_suspected: float
    worth_fixing: bool
    sentence: str


@dataclass(frozen=True)
class Suspect:
    """An example whose label looks wrong; `thumbnail` is relative to the analysis directory."""

    id: str
    split: str
    label: str
    suggested: str
    quality: float
    rank: int
    thumbnail: str


@dataclass(frozen=True)
class LabelIssues:
    suspected_dev: int
    suspected_test: int
    impact: LabelImpact
    top: tuple[Suspect, ...]


@dataclass(frozen=True)
class TrainLabelIssues:
    checked: int
    suspected: int
    folds: int
    top: tuple[Suspect, ...]


@dataclass(frozen=True)
class GalleryItem:
    """A dev example the train-dev vs dev classifier finds most unlike the training data."""

    id: str
    label: str
    prediction: str
    score: float
    thumbnail: str


@dataclass(frozen=True)
class DomainMismatch:
    """One training domain's train-dev examples (real or synthesized) against dev."""

    domain: str
    synthetic: bool
    train_dev_examples: int
    auc: float  # NaN when skipped
    interval: Interval | None  # None when skipped
    skipped: str  # why there is no AUC; "" when there is one


@dataclass(frozen=True)
class Mismatch:
    auc: float
    interval: Interval | None
    train_dev_examples: int
    dev_examples: int
    interpretation: str
    gallery: tuple[GalleryItem, ...]
    by_domain: tuple[DomainMismatch, ...] = ()  # absent from files written before it


@dataclass(frozen=True)
class Analysis:
    """reports/analysis/<arch>.json, plus the thumbnails it points at, read as PNG bytes."""

    architecture: str
    dev_error: float
    misclassified_dev: int
    errors_sheet: Sheet | None  # None for a multi-task model (no sheets; see `note`)
    correct_sheet: Sheet | None
    property_thresholds: dict[str, str]
    review: ErrorReview | None
    review_hint: str
    correct_review: CorrectReview | None
    label_issues: LabelIssues | None
    train_label_issues: TrainLabelIssues | None
    mismatch: Mismatch | None
    thumbnails: dict[str, bytes] = field(default_factory=dict)  # by the path the JSON gives
    missing_thumbnails: tuple[str, ...] = ()  # "path (reason)", one per unreadable thumbnail
    note: str = ""  # why parts are missing (a multi-task model has no single-label analysis)


@dataclass(frozen=True)
class Threshold:
    metric: str
    max: float | None
    min: float | None


@dataclass(frozen=True)
class SelectionWinner:
    name: str
    run_id: str
    source: str
    value: float


@dataclass(frozen=True)
class Candidate:
    name: str
    source: str  # "this run" or "earlier run"
    run_id: str
    started: str | None
    value: float | None
    satisfied: bool
    failed: tuple[str, ...]  # one line per threshold the candidate misses
    rank: int | None  # among the candidates that satisfy every threshold


@dataclass(frozen=True)
class Champion:
    registered_model: str
    alias: str
    version: str
    uri: str


@dataclass(frozen=True)
class Selection:
    """reports/selection.json: one optimizing metric, satisficing thresholds, the pick."""

    optimizing: str
    goal: str
    thresholds: tuple[Threshold, ...]
    winner: SelectionWinner | None
    candidates: tuple[Candidate, ...]
    explanation: str
    warnings: tuple[str, ...]
    champion: Champion | None
    champion_note: str


@dataclass(frozen=True)
class ArchitectureResult:
    """Everything the report shows about one architecture."""

    name: str
    training: TrainingRecord
    metrics: ArchitectureMetrics
    diagnosis: Diagnosis
    confusion_dev: ConfusionMatrix  # multi-task: a row per task, columns tn fp fn tp
    analysis: Analysis


@dataclass(frozen=True)
class SourcePool:
    """One kind of source the synthetic images were drawn from (fonts, backgrounds, ...)."""

    name: str
    distinct: int
    images: int
    effective: float  # exp(entropy) of the shares: the number of equally used sources
    top_share: float
    covering: int  # fewest sources that make up `coverage` of the images


@dataclass(frozen=True)
class SynthesisDiversity:
    """reports/synthesis/diversity.json: the notes' caveat about a narrow synthesis pool."""

    source: str
    count: int
    coverage: float
    min_effective_sources: float
    pools: tuple[SourcePool, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ReportInputs:
    split: SplitSummary
    architectures: tuple[ArchitectureResult, ...]
    selection: Selection
    analysis_dir: Path  # where the sheets and thumbnails live; the report links there
    # The train split's augmentation drawn on a few training images; None: not computed.
    augmentation: AugmentationPreview | None = None
    synthesis: SynthesisDiversity | None = None  # None: no diversity report (older pipelines)


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


def _get_bool(obj: Any, key: str, path: Path, where: str = "") -> bool:
    return _bool(_field(obj, key, path, where), path, _join(where, key))


def _get_mapping(obj: Any, key: str, path: Path, where: str = "") -> Mapping[str, Any]:
    return _mapping(_field(obj, key, path, where), path, _join(where, key))


def _get_list(obj: Any, key: str, path: Path, where: str = "") -> list[Any]:
    return _list(_field(obj, key, path, where), path, _join(where, key))


def _get_strs(obj: Any, key: str, path: Path, where: str = "") -> tuple[str, ...]:
    items, full = _get_list(obj, key, path, where), _join(where, key)
    return tuple(_str(item, path, f"{full}[{i}]") for i, item in enumerate(items))


def _nan_float(value: Any, path: Path, where: str) -> float:
    """A number, or null read back as NaN (JSON writers put null where NaN was meant)."""
    return math.nan if value is None else _float(value, path, where)


def _get_nan_float(obj: Any, key: str, path: Path, where: str = "") -> float:
    return _nan_float(_field(obj, key, path, where), path, _join(where, key))


def _get_optional(
    obj: Any, key: str, path: Path, where: str, read: Callable[[Any, Path, str], T]
) -> T | None:
    """read(value, path, dotted key) for a key that may be absent or null (then None)."""
    value = _mapping(obj, path, where or "top level").get(key)
    return None if value is None else read(value, path, _join(where, key))


def _interval(value: Any, path: Path, where: str) -> Interval | None:
    if value is None:
        return None
    items = _list(value, path, where)
    if len(items) != 2:
        raise ReportInputError(path, f"{where}: expected [low, high], got {value!r}")
    return (_nan_float(items[0], path, f"{where}[0]"), _nan_float(items[1], path, f"{where}[1]"))


def _get_interval(obj: Any, key: str, path: Path, where: str = "") -> Interval | None:
    return _interval(_field(obj, key, path, where), path, _join(where, key))


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
        confidence=_get_optional(data, "confidence", path, "", _split_confidence),
        warnings=_get_strs(data, "warnings", path) if "warnings" in data else (),
        near_duplicates_dropped=_get_optional(data, "near_duplicates", path, "", _near_dropped),
    )


def load_synthesis_diversity(path: Path) -> SynthesisDiversity | None:
    """Read reports/synthesis/diversity.json; None when the synthesize stage wrote none."""
    if not Path(path).is_file():
        return None
    data = _mapping(_read_json(path), path, "top level")
    pools = tuple(
        SourcePool(
            name=name,
            distinct=_get_int(pool, "distinct", path, f"pools.{name}"),
            images=_get_int(pool, "images", path, f"pools.{name}"),
            effective=_get_float(pool, "effective", path, f"pools.{name}"),
            top_share=_get_float(pool, "top_share", path, f"pools.{name}"),
            covering=_get_int(pool, "covering", path, f"pools.{name}"),
        )
        for name, pool in _get_mapping(data, "pools", path).items()
    )
    return SynthesisDiversity(
        source=_get_str(data, "source", path),
        count=_get_int(data, "count", path),
        coverage=_get_float(data, "coverage", path),
        min_effective_sources=_get_float(data, "min_effective_sources", path),
        pools=pools,
        warnings=_get_strs(data, "warnings", path),
    )


def _split_confidence(value: Any, path: Path, where: str) -> SplitConfidence:
    sets = tuple(
        SetConfidence(
            split=split,
            examples=_get_int(entry, "examples", path, f"{where}.{split}"),
            half_width=_get_nan_float(entry, "half_width", path, f"{where}.{split}"),
            resolvable_difference=_nan_float(
                _mapping(entry, path, f"{where}.{split}").get("resolvable_difference"),
                path,
                f"{where}.{split}.resolvable_difference",
            ),
            examples_needed=_get_int(entry, "examples_needed", path, f"{where}.{split}"),
            big_enough=_get_bool(entry, "big_enough", path, f"{where}.{split}"),
        )
        for split in ("dev", "test")
        if (entry := _mapping(value, path, where).get(split)) is not None
    )
    return SplitConfidence(
        expected_error=_get_float(value, "expected_error", path, where),
        min_resolvable_difference=_get_float(value, "min_resolvable_difference", path, where),
        sets=sets,
    )


def _near_dropped(value: Any, path: Path, where: str) -> int | None:
    if not _get_bool(value, "enabled", path, where):
        return None
    return _get_int(value, "dropped", path, where)


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
    class_error = _get_optional(entry, "class_error", path, where, _nan_float_map) or {}

    def task_map(key: str) -> dict[str, float]:
        return _get_optional(entry, key, path, where, _nan_float_map) or {}

    return SplitMetrics(
        error=_get_float(entry, "error", path, where),
        accuracy=_get_float(entry, "accuracy", path, where),
        precision=_get_float(entry, "precision", path, where),
        recall=_get_float(entry, "recall", path, where),
        f1=_get_float(entry, "f1", path, where),
        count=_get_int(entry, "count", path, where),
        weighted_error=_get_optional(entry, "weighted_error", path, where, _float),
        class_error=class_error,
        task_error=task_map("task_error"),
        task_count=_get_optional(entry, "task_count", path, where, _int_map) or {},
        task_precision=task_map("task_precision"),
        task_recall=task_map("task_recall"),
        task_f1=task_map("task_f1"),
    )


def _int_map(value: Any, path: Path, where: str) -> dict[str, int]:
    return {
        str(key): _int(item, path, f"{where}.{key}")
        for key, item in _mapping(value, path, where).items()
    }


def _scored(entry: Any) -> bool:
    """False for a split with nothing scored ({"count": 0}): read as missing, not malformed."""
    return not (isinstance(entry, Mapping) and "error" not in entry and entry.get("count") == 0)


def _nan_float_map(value: Any, path: Path, where: str) -> dict[str, float]:
    return {
        str(key): _nan_float(item, path, f"{where}.{key}")
        for key, item in _mapping(value, path, where).items()
    }


def load_metrics(path: Path) -> ArchitectureMetrics:
    """Read metrics_dir/<arch>.json."""
    data = _mapping(_read_json(path), path, "top level")
    splits = {
        split: _split_metrics(entry, path, f"splits.{split}")
        for split, entry in _mapping(_field(data, "splits", path, ""), path, "splits").items()
        if _scored(entry)
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
    return ArchitectureMetrics(
        splits=splits,
        bias_variance=bias_variance,
        latency_ms=latency,
        tasks=_get_strs(data, "tasks", path) if data.get("tasks") is not None else (),
    )


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
        interval=_get_optional(entry, "interval", path, where, _interval),
        within_noise=bool(_get_optional(entry, "within_noise", path, where, _bool)),
    )


def _interval_map(value: Any, path: Path, where: str) -> dict[str, Interval | None]:
    return {
        str(key): _interval(item, path, f"{where}.{key}")
        for key, item in _mapping(value, path, where).items()
    }


def _class_gap(entry: Any, path: Path, where: str) -> ClassGap:
    return ClassGap(
        value=_get_nan_float(entry, "value", path, where),
        interval=_get_optional(entry, "interval", path, where, _interval),
        matters=_get_bool(entry, "matters", path, where),
        within_noise=bool(_get_optional(entry, "within_noise", path, where, _bool)),
    )


def _class_diagnosis(entry: Any, path: Path, where: str, key: str = "class") -> ClassDiagnosis:
    """A per-class entry; per-task entries have the same shape with `task` for `class`."""
    counts = _get_mapping(entry, "counts", path, where)
    gaps = _get_mapping(entry, "gaps", path, where)
    dominant = _field(entry, "dominant", path, where)
    return ClassDiagnosis(
        label=_get_str(entry, key, path, where),
        counts={
            str(split): _int(count, path, f"{where}.counts.{split}")
            for split, count in counts.items()
        },
        errors=_nan_float_map(_field(entry, "errors", path, where), path, f"{where}.errors"),
        gaps={
            str(name): _class_gap(gap, path, f"{where}.gaps.{name}") for name, gap in gaps.items()
        },
        dominant=None if dominant is None else _str(dominant, path, f"{where}.dominant"),
    )


def _change(entry: Any, path: Path, where: str) -> MetricChange:
    return MetricChange(
        name=_get_str(entry, "name", path, where),
        label=_get_str(entry, "label", path, where),
        previous=_get_nan_float(entry, "previous", path, where),
        current=_get_nan_float(entry, "current", path, where),
        delta=_get_nan_float(entry, "delta", path, where),
        moved=_get_bool(entry, "moved", path, where),
        status=str(entry.get("status") or ""),
    )


def _previous(entry: Any, path: Path, where: str) -> PreviousRun:
    changes = _get_list(entry, "changes", path, where)
    return PreviousRun(
        run_id=_get_str(entry, "run_id", path, where),
        started=_get_str(entry, "started", path, where),
        same_split=_get_bool(entry, "same_split", path, where),
        summary=_get_str(entry, "summary", path, where),
        changes=tuple(
            _change(change, path, f"{where}.changes[{i}]") for i, change in enumerate(changes)
        ),
    )


def load_diagnosis(path: Path) -> Diagnosis:
    """Read evaluation_dir/<arch>/diagnosis.json; keys newer than its first version are optional."""
    data = _mapping(_read_json(path), path, "top level")
    gaps = _list(_field(data, "gaps", path, ""), path, "gaps")
    dominant = _field(data, "dominant", path, "")
    intervals = _get_optional(data, "intervals", path, "", _mapping) or {}
    per_class = _get_optional(data, "per_class", path, "", _list) or []
    per_task = _get_optional(data, "per_task", path, "", _list) or []
    return Diagnosis(
        gaps=tuple(_gap(entry, path, f"gaps[{i}]") for i, entry in enumerate(gaps)),
        dominant=None if dominant is None else _str(dominant, path, "dominant"),
        summary=_get_str(data, "summary", path),
        confidence=_get_optional(data, "confidence", path, "", _float),
        row_intervals=_get_optional(intervals, "rows", path, "intervals", _interval_map) or {},
        gap_intervals=_get_optional(intervals, "gaps", path, "intervals", _interval_map) or {},
        per_class=tuple(
            _class_diagnosis(entry, path, f"per_class[{i}]") for i, entry in enumerate(per_class)
        ),
        previous=_get_optional(data, "previous", path, "", _previous),
        per_task=tuple(
            _class_diagnosis(entry, path, f"per_task[{i}]", key="task")
            for i, entry in enumerate(per_task)
        ),
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


# ---------------------------------------------------------------------------------------------
# reports/analysis/<arch>.json and the thumbnails it points at


def _sheet(value: Any, path: Path, where: str) -> Sheet:
    return Sheet(
        csv=_get_str(value, "csv", path, where),
        html=_get_str(value, "html", path, where),
        rows=_get_int(value, "rows", path, where),
    )


def _category(entry: Any, path: Path, where: str) -> CategoryCount:
    return CategoryCount(
        category=_get_str(entry, "category", path, where),
        count=_get_int(entry, "count", path, where),
        percent_of_errors=_get_nan_float(entry, "percent_of_errors", path, where),
        ceiling=_get_nan_float(entry, "ceiling", path, where),
    )


def _review(value: Any, path: Path, where: str) -> ErrorReview:
    table = _get_list(value, "table", path, where)
    return ErrorReview(
        path=_get_str(value, "path", path, where),
        reviewed=_get_int(value, "reviewed", path, where),
        table=tuple(_category(row, path, f"{where}.table[{i}]") for i, row in enumerate(table)),
        stale_ids=_get_strs(value, "stale_ids", path, where),
        unknown_ids=_get_strs(value, "unknown_ids", path, where),
    )


def _correct_review(value: Any, path: Path, where: str) -> CorrectReview:
    return CorrectReview(
        path=_get_str(value, "path", path, where),
        reviewed=_get_int(value, "reviewed", path, where),
        incorrectly_labeled=_get_int(value, "incorrectly_labeled", path, where),
    )


def _thumbnail_path(value: Any, path: Path, where: str) -> str:
    """A relative path that stays inside the analysis directory (the report reads it)."""
    text = _str(value, path, where)
    relative = PurePosixPath(text)
    if not text or relative.is_absolute() or ".." in relative.parts or "\\" in text:
        raise ReportInputError(
            path,
            f"{where}: {text!r} must be a path inside the analysis directory, like "
            "'thumbnails/<id>.png'",
        )
    return text


def _suspect(entry: Any, path: Path, where: str) -> Suspect:
    return Suspect(
        id=_get_str(entry, "id", path, where),
        split=_get_str(entry, "split", path, where),
        label=_get_str(entry, "label", path, where),
        suggested=_get_str(entry, "suggested", path, where),
        quality=_get_nan_float(entry, "quality", path, where),
        rank=_get_int(entry, "rank", path, where),
        thumbnail=_thumbnail_path(
            _field(entry, "thumbnail", path, where), path, f"{where}.thumbnail"
        ),
    )


def _suspects(value: Any, path: Path, where: str) -> tuple[Suspect, ...]:
    top = _get_list(value, "top", path, where)
    return tuple(_suspect(entry, path, f"{where}.top[{i}]") for i, entry in enumerate(top))


def _impact(value: Any, path: Path, where: str) -> LabelImpact:
    return LabelImpact(
        dev_error=_get_nan_float(value, "dev_error", path, where),
        error_from_labels=_get_nan_float(value, "error_from_labels", path, where),
        error_other=_get_nan_float(value, "error_other", path, where),
        share_of_errors=_get_nan_float(value, "share_of_errors", path, where),
        error_without_suspected=_get_nan_float(value, "error_without_suspected", path, where),
        worth_fixing=_get_bool(value, "worth_fixing", path, where),
        sentence=_get_str(value, "sentence", path, where),
    )


def _label_issues(value: Any, path: Path, where: str) -> LabelIssues:
    return LabelIssues(
        suspected_dev=_get_int(value, "suspected_dev", path, where),
        suspected_test=_get_int(value, "suspected_test", path, where),
        impact=_impact(_field(value, "impact", path, where), path, f"{where}.impact"),
        top=_suspects(value, path, where),
    )


def _train_label_issues(value: Any, path: Path, where: str) -> TrainLabelIssues:
    return TrainLabelIssues(
        checked=_get_int(value, "checked", path, where),
        suspected=_get_int(value, "suspected", path, where),
        folds=_get_int(value, "folds", path, where),
        top=_suspects(value, path, where),
    )


def _gallery_item(entry: Any, path: Path, where: str) -> GalleryItem:
    return GalleryItem(
        id=_get_str(entry, "id", path, where),
        label=_get_str(entry, "label", path, where),
        prediction=_get_str(entry, "prediction", path, where),
        score=_get_nan_float(entry, "score", path, where),
        thumbnail=_thumbnail_path(
            _field(entry, "thumbnail", path, where), path, f"{where}.thumbnail"
        ),
    )


def _domain_mismatch(entry: Any, path: Path, where: str) -> DomainMismatch:
    skipped = _get_optional(entry, "skipped", path, where, _str) or ""
    low = _get_nan_float(entry, "ci_low", path, where)
    high = _get_nan_float(entry, "ci_high", path, where)
    return DomainMismatch(
        domain=_get_str(entry, "domain", path, where),
        synthetic=_get_bool(entry, "synthetic", path, where),
        train_dev_examples=_get_int(entry, "train_dev_examples", path, where),
        auc=_get_nan_float(entry, "auc", path, where),
        interval=None if skipped else (low, high),
        skipped=skipped,
    )


def _mismatch(value: Any, path: Path, where: str) -> Mismatch:
    gallery = _get_list(value, "gallery", path, where)
    by_domain = _get_optional(value, "by_domain", path, where, _list) or []
    return Mismatch(
        auc=_get_nan_float(value, "auc", path, where),
        interval=_get_interval(value, "interval", path, where),
        train_dev_examples=_get_int(value, "train_dev_examples", path, where),
        dev_examples=_get_int(value, "dev_examples", path, where),
        interpretation=_get_str(value, "interpretation", path, where),
        gallery=tuple(
            _gallery_item(entry, path, f"{where}.gallery[{i}]") for i, entry in enumerate(gallery)
        ),
        by_domain=tuple(
            _domain_mismatch(entry, path, f"{where}.by_domain[{i}]")
            for i, entry in enumerate(by_domain)
        ),
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


def load_analysis(path: Path, directory: Path, architecture: str) -> Analysis:
    """Read reports/analysis/<arch>.json and, from `directory`, every thumbnail it names."""
    data = _mapping(_read_json(path), path, "top level")
    written_for = _get_str(data, "architecture", path)
    if written_for != architecture:
        raise ReportInputError(
            path,
            f"architecture is {written_for!r}, expected {architecture!r}; "
            f"re-run `dvc repro analyze@{architecture}`",
        )
    thresholds = _get_mapping(data, "property_thresholds", path)
    multitask = data.get("multitask") is True  # no sheets: the analysis says why in `note`
    analysis = Analysis(
        architecture=written_for,
        dev_error=_get_nan_float(data, "dev_error", path),
        misclassified_dev=_get_int(data, "misclassified_dev", path),
        errors_sheet=_analysis_sheet(data, "errors_sheet", path, multitask),
        correct_sheet=_analysis_sheet(data, "correct_sheet", path, multitask),
        property_thresholds={
            str(name): _str(rule, path, f"property_thresholds.{name}")
            for name, rule in thresholds.items()
        },
        review=_get_optional(data, "review", path, "", _review),
        review_hint=_get_str(data, "review_hint", path),
        correct_review=_get_optional(data, "correct_review", path, "", _correct_review),
        label_issues=_get_optional(data, "label_issues", path, "", _label_issues),
        train_label_issues=_get_optional(data, "train_label_issues", path, "", _train_label_issues),
        mismatch=_get_optional(data, "mismatch", path, "", _mismatch),
        note=_get_str(data, "note", path) if multitask else "",
    )
    return _with_thumbnails(analysis, directory)


def _analysis_sheet(data: Any, key: str, path: Path, multitask: bool) -> Sheet | None:
    """Required for a single-label analysis; a multi-task one may have none (null)."""
    if multitask:
        return _get_optional(data, key, path, "", _sheet)
    return _sheet(_field(data, key, path, ""), path, key)


def thumbnail_paths(analysis: Analysis) -> list[str]:
    """Every thumbnail the analysis names, first occurrence first, each once."""
    names: list[str] = []
    if analysis.label_issues is not None:
        names += [suspect.thumbnail for suspect in analysis.label_issues.top]
    if analysis.train_label_issues is not None:
        names += [suspect.thumbnail for suspect in analysis.train_label_issues.top]
    if analysis.mismatch is not None:
        names += [item.thumbnail for item in analysis.mismatch.gallery]
    return list(dict.fromkeys(names))


def _with_thumbnails(analysis: Analysis, directory: Path) -> Analysis:
    images: dict[str, bytes] = {}
    missing: list[str] = []
    for relative in thumbnail_paths(analysis):
        outcome = _read_thumbnail(directory, relative)
        if isinstance(outcome, bytes):
            images[relative] = outcome
        else:
            missing.append(f"{directory / relative} ({outcome})")
    return replace(analysis, thumbnails=images, missing_thumbnails=tuple(missing))


# ---------------------------------------------------------------------------------------------
# reports/selection.json


def _threshold(entry: Any, path: Path, where: str) -> Threshold:
    threshold = Threshold(
        metric=_get_str(entry, "metric", path, where),
        max=_get_optional(entry, "max", path, where, _float),
        min=_get_optional(entry, "min", path, where, _float),
    )
    if threshold.max is None and threshold.min is None:
        raise ReportInputError(path, f"{where}: a threshold needs a max, a min or both")
    return threshold


def _winner(value: Any, path: Path, where: str) -> SelectionWinner:
    return SelectionWinner(
        name=_get_str(value, "name", path, where),
        run_id=_get_str(value, "run_id", path, where),
        source=_get_str(value, "source", path, where),
        value=_get_float(value, "value", path, where),
    )


def _candidate(entry: Any, path: Path, where: str) -> Candidate:
    return Candidate(
        name=_get_str(entry, "name", path, where),
        source=_get_str(entry, "source", path, where),
        run_id=_get_str(entry, "run_id", path, where),
        started=_get_optional(entry, "started", path, where, _str),
        value=_get_optional(entry, "value", path, where, _float),
        satisfied=_get_bool(entry, "satisfied", path, where),
        failed=_get_strs(entry, "failed", path, where),
        rank=_get_optional(entry, "rank", path, where, _int),
    )


def _version(value: Any, path: Path, where: str) -> str:
    """MLflow hands out model versions as strings or integers; either reads as text."""
    return str(_int(value, path, where)) if not isinstance(value, str) else value


def _champion(value: Any, path: Path, where: str) -> Champion:
    return Champion(
        registered_model=_get_str(value, "registered_model", path, where),
        alias=_get_str(value, "alias", path, where),
        version=_version(_field(value, "version", path, where), path, f"{where}.version"),
        uri=_get_str(value, "uri", path, where),
    )


def load_selection(path: Path) -> Selection:
    """Read reports/selection.json."""
    data = _mapping(_read_json(path), path, "top level")
    thresholds = _get_list(data, "thresholds", path)
    candidates = _get_list(data, "candidates", path)
    return Selection(
        optimizing=_get_str(data, "optimizing", path),
        goal=_get_str(data, "goal", path),
        thresholds=tuple(
            _threshold(entry, path, f"thresholds[{i}]") for i, entry in enumerate(thresholds)
        ),
        winner=_get_optional(data, "winner", path, "", _winner),
        candidates=tuple(
            _candidate(entry, path, f"candidates[{i}]") for i, entry in enumerate(candidates)
        ),
        explanation=_get_str(data, "explanation", path),
        warnings=_get_strs(data, "warnings", path),
        champion=_get_optional(data, "champion", path, "", _champion),
        champion_note=_get_str(data, "champion_note", path),
    )


def load_architecture(
    name: str, models_dir: Path, evaluation_dir: Path, metrics_dir: Path, analysis_dir: Path
) -> ArchitectureResult:
    """Gather one architecture's five input files (and the thumbnails its analysis names)."""
    return ArchitectureResult(
        name=name,
        training=load_training(models_dir / name / "training.json"),
        metrics=load_metrics(metrics_dir / f"{name}.json"),
        diagnosis=load_diagnosis(evaluation_dir / name / "diagnosis.json"),
        confusion_dev=load_confusion(evaluation_dir / name / "confusion_dev.csv"),
        analysis=load_analysis(analysis_dir / f"{name}.json", analysis_dir / name, name),
    )
