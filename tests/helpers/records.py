"""Stage records for tests, built from the same models the stages write (traindev.records).

Two architectures: mlp has everything the analysis can produce (intervals, per-class gaps, a
reviewed sheet with a hostile category name, label issues with one missing thumbnail, a
mismatch gallery); small_cnn has the minimum (no review, no label or mismatch check).
`write_fake_inputs` writes them where the report stage reads them.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from traindev import paths
from traindev.data.split_confidence import split_confidence
from traindev.records import write_record
from traindev.records.analysis import (
    AnalysisRecord,
    CategoryCount,
    CorrectReview,
    DomainGrid,
    ErrorReview,
    FalseSuspectCount,
    GalleryItem,
    LabelImpact,
    LabelIssues,
    Mismatch,
    PropertyShift,
    Sheet,
    Suspect,
    TrainLabelIssues,
)
from traindev.records.diagnosis import ClassDiagnosis, ClassGap, DiagnosisRecord, Gap
from traindev.records.diagnosis import TableIntervals as TableIntervalsRecord
from traindev.records.metrics import BiasVariance, MetricsRecord, SplitMetrics
from traindev.records.selection import CandidateRow, SelectionRecord, Threshold
from traindev.records.split import NearDuplicates, SplitSummary
from traindev.records.training import Epoch, TrainingRecord
from traindev.reporting.inputs import ReportInputs
from traindev.reporting.report import load_report_inputs

ARCHS = ("mlp", "small_cnn")
CLASSES = ("0", "1", "2")
SPLITS = ("train", "train_dev", "dev", "test")
# Per architecture: human, train, train-dev, dev, test error.
ERRORS = {
    "mlp": (0.01, 0.0512, 0.0634, 0.1234, 0.1301),
    "small_cnn": (0.01, 0.0200, 0.0250, 0.0815, 0.0790),
}
SUMMARIES = {
    "mlp": "High avoidable bias & data mismatch: train <longer> first.",
    "small_cnn": "Data mismatch dominates; collect more target-like data.",
}
GAP_LABELS = {
    "avoidable_bias": ("Avoidable bias", "human-level", "train"),
    "variance": ("Variance", "train", "train-dev"),
    "data_mismatch": ("Data mismatch", "train-dev", "dev"),
    "dev_overfitting": ("Dev overfitting", "dev", "test"),
}
# mlp's gap intervals sit on each gap; small_cnn's only under "intervals.gaps".
GAP_INTERVALS = {
    "mlp": {
        "avoidable_bias": (0.021, 0.0614),
        "variance": (-0.004, 0.0284),
        "data_mismatch": (0.031, 0.089),
        "dev_overfitting": (-0.02, 0.033),
    },
    "small_cnn": {
        "avoidable_bias": (0.001, 0.019),
        "variance": (-0.01, 0.02),
        "data_mismatch": (0.03, 0.083),
        "dev_overfitting": (-0.03, 0.025),
    },
}
ROW_INTERVALS = {  # no human-level row: the report shows a dash
    "train": (0.04, 0.063),
    "train-dev": (0.03, 0.11),
    "dev": (0.09, 0.16),
    "test": (0.095, 0.17),
}
SPLIT_COUNTS = {
    "train": {"fonts": {"0": 50, "1": 40, "2": 45}, "handwritten": {"0": 5, "1": 6}},
    "train_dev": {"fonts": {"0": 5, "1": 4, "2": 6}},
    "dev": {"handwritten": {"0": 10, "1": 9, "2": 11}},
    "test": {"handwritten": {"0": 9, "1": 10, "2": 12}},
}
HOSTILE_CATEGORY = "<script>alert(1)</script>"
MISSING_THUMBNAIL = "thumbnails/d4e5f6.png"
GRID_THUMBNAILS = ("thumbnails/s1.png", "thumbnails/h1.png", "thumbnails/d1.png")
THUMBNAILS = ("thumbnails/a1b2c3.png", "thumbnails/t1.png", "thumbnails/g1.png", *GRID_THUMBNAILS)
REVIEW_HINT = (
    "No reviewed sheet at reviews/small_cnn/errors.csv: copy "
    "reports/analysis/small_cnn/errors.csv there, tick the categories, run dvc repro."
)
LATENCY_FAILED = "latency_ms > 100"  # a volatile metric's reason carries no figure


def png_bytes(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8), color=shade).save(buffer, format="PNG")
    return buffer.getvalue()


def split_summary(
    counts: dict[str, dict[str, dict[str, int]]] = SPLIT_COUNTS,
    target_domain: str = "handwritten",
    unused_target: int = 7,
    duplicates_dropped: int = 3,
    near_duplicates: NearDuplicates | None = None,
) -> SplitSummary:
    """A split summary for these counts, with the confidence block the split stage computes."""
    totals = {split: sum(sum(c.values()) for c in counts[split].values()) for split in counts}
    confidence, warnings = split_confidence(totals.get("dev", 0), totals.get("test", 0), 0.03, 0.01)
    return SplitSummary(
        counts=counts,
        totals=totals,
        target_domain=target_domain,
        unused_target=unused_target,
        sources={},
        duplicates_dropped=duplicates_dropped,
        fractions={},
        class_share_drift={},
        stratify=True,
        near_duplicates=near_duplicates or NearDuplicates(enabled=False, max_distance=4, dropped=0),
        confidence=confidence,
        warnings=warnings,
        files_md5={},
    )


def training(arch: str, epochs: int = 3, parameters: int | None = None) -> TrainingRecord:
    errors = ERRORS.get(arch, ERRORS["mlp"])
    history = [
        Epoch(
            epoch=epoch,
            loss=1.0 / epoch,
            train_error=errors[1] + 0.1 / epoch,
            train_dev_error=errors[2] + 0.1 / epoch,
            dev_error=errors[3] + 0.1 / epoch,
            lr=0.001,
        )
        for epoch in range(1, epochs + 1)
    ]
    return TrainingRecord(
        architecture=arch,
        device="cpu",
        world_size=1,
        precision="fp32",
        epochs=epochs,
        epochs_run=epochs,
        stopped_early_at=None,
        best_epoch=None,
        binary_labels=[],
        augmentation=[],
        augmentation_backend=None,
        augmentation_offline_copies=0,
        history=history,
        parameters=parameters or (1234567 if arch == "mlp" else 98765),
        flops_per_example=None,
    )


def bias_variance(errors: tuple[float, ...]) -> BiasVariance:
    human, train, train_dev, dev, test = errors
    return BiasVariance(
        human_level_error=human,
        train_error=train,
        train_dev_error=train_dev,
        dev_error=dev,
        test_error=test,
        avoidable_bias=train - human,
        variance=train_dev - train,
        data_mismatch=dev - train_dev,
        dev_overfitting=test - dev,
    )


def metrics(arch: str) -> MetricsRecord:
    errors = ERRORS[arch]
    splits = {
        name: SplitMetrics(
            count=100,
            error=err,
            accuracy=1 - err,
            precision=1 - err,
            recall=1 - err,
            f1=1 - err - 0.001,
        )
        for name, err in zip(SPLITS, errors[1:], strict=True)
    }
    if arch == "small_cnn":  # weighted and per-class errors; mlp's file has neither
        splits["dev"] = splits["dev"].model_copy(
            update={"weighted_error": 0.0901, "class_error": {"0": 0.05, "1": float("nan")}}
        )
        splits["train_dev"] = splits["train_dev"].model_copy(
            update={"class_error": {"0": 0.02, "1": 0.03}}
        )
    return MetricsRecord(splits=splits, bias_variance=bias_variance(errors))


def gaps(arch: str, with_intervals: bool = True) -> list[Gap]:
    errors = ERRORS[arch]
    found = []
    for index, (name, (label, low, high)) in enumerate(GAP_LABELS.items()):
        value = errors[index + 1] - errors[index]
        found.append(
            Gap(
                name=name,
                label=label,
                value=value,
                between=(low, high),
                matters=name in ("avoidable_bias", "data_mismatch") and value > 0.03,
                knobs=(f"{name} knob A", f"{name} knob <B>"),
                interval=GAP_INTERVALS[arch][name] if with_intervals and arch == "mlp" else None,
                within_noise=with_intervals and name in ("variance", "dev_overfitting"),
            )
        )
    return found


def _class_gap(value: float, interval: tuple | None, matters: bool) -> ClassGap:
    return ClassGap(value=value, interval=interval, matters=matters, within_noise=not matters)


def per_class(arch: str) -> list[ClassDiagnosis]:
    nan = float("nan")
    rows = []
    for label in CLASSES:
        mismatch = arch == "mlp" and label == "2"
        rows.append(
            ClassDiagnosis(
                label=label,
                counts={"train": 45, "train_dev": 6, "dev": 11, "test": 12},
                errors={
                    "human-level": 0.01,
                    "train": 0.02,
                    "train-dev": 0.0333,
                    "dev": 0.1818 if mismatch else 0.04,
                    "test": nan,  # no test examples of the class: NaN, written as null
                },
                error_intervals=None,
                gaps={
                    "avoidable_bias": _class_gap(0.01, (-0.01, 0.03), False),
                    "variance": _class_gap(0.0133, None, False),
                    "data_mismatch": _class_gap(
                        0.1485 if mismatch else 0.0067, (0.02, 0.31), mismatch
                    ),
                    "dev_overfitting": _class_gap(nan, None, False),
                },
                dominant="data_mismatch" if mismatch else None,
                summary=f"class {label}",
                confidence=0.95,
            )
        )
    return rows


def diagnosis(arch: str) -> DiagnosisRecord:
    """A diagnosis with bootstrap intervals and per-class rows."""
    return DiagnosisRecord(
        gaps=gaps(arch),
        dominant="data_mismatch",
        summary=SUMMARIES[arch],
        confidence=0.95,
        intervals=TableIntervalsRecord(
            confidence=0.95, replicates=200, rows=ROW_INTERVALS, gaps=GAP_INTERVALS[arch]
        ),
        per_class=per_class(arch),
    )


def diagnosis_without_intervals(arch: str) -> DiagnosisRecord:
    """What evaluation.diagnosis.diagnose writes when it is given no intervals."""
    return DiagnosisRecord(
        gaps=gaps(arch, with_intervals=False),
        dominant="data_mismatch",
        summary=SUMMARIES[arch],
        confidence=None,
        intervals=None,
        per_class=[],
    )


def suspect(ident: str, split: str, label: str, suggested: str, quality: float, rank: int):
    return Suspect(
        id=ident,
        split=split,
        label=label,
        suggested=suggested,
        quality=quality,
        rank=rank,
        thumbnail=f"thumbnails/{ident}.png",
    )


def analysis(arch: str) -> AnalysisRecord:
    base = AnalysisRecord(
        architecture=arch,
        dev_error=ERRORS[arch][3],
        misclassified_dev=37 if arch == "mlp" else 24,
        errors_sheet=Sheet(csv="errors.csv", html="errors.html", rows=37),
        correct_sheet=Sheet(csv="correct.csv", html="correct.html", rows=50),
        property_thresholds={"dark": "brightness < 0.12", "low_contrast": "contrast < 0.2"},
        review=None,
        review_hint=REVIEW_HINT,
        correct_review=None,
        label_issues=None,
        train_label_issues=None,
        mismatch=None,
    )
    if arch != "mlp":
        return base
    return base.model_copy(
        update={
            "review": ErrorReview(
                path="reviews/mlp/errors.csv",
                reviewed=37,
                table=[
                    CategoryCount(
                        category="blurry", count=15, percent_of_errors=0.4054, ceiling=0.05
                    ),
                    CategoryCount(
                        category=HOSTILE_CATEGORY,
                        count=10,
                        percent_of_errors=0.2703,
                        ceiling=0.0334,
                    ),
                    CategoryCount(
                        category="dark", count=4, percent_of_errors=0.1081, ceiling=0.0133
                    ),
                ],
                stale_ids=["stale-1"],
                unknown_ids=["ghost-9"],
                skipped_columns={},
            ),
            "review_hint": "",
            "correct_review": CorrectReview(
                path="reviews/mlp/correct.csv",
                reviewed=50,
                incorrectly_labeled=1,
                percent_incorrectly_labeled=2.0,
                ids=["c1"],
                stale_ids=[],
            ),
            "label_issues": LabelIssues(
                suspected_dev=3,
                suspected_test=2,
                false_suspects=FalseSuspectCount(
                    replicates=100,
                    temperature=1.2,
                    observed=5,
                    expected=3.2,
                    low=1.0,
                    high=6.0,
                    label_errors=1.8,
                    confidence=0.95,
                    calibrated_on="train-dev",
                ),
                impact=LabelImpact(
                    split="dev",
                    examples=300,
                    suspected=3,
                    dev_error=0.1234,
                    error_from_labels=0.01,
                    error_other=0.1134,
                    share_of_errors=0.081,
                    error_without_suspected=0.1152,
                    worth_fixing_share=0.1,
                    worth_fixing=False,
                    sentence="Suspected labels explain 1.00 of the 12.34 points of dev error.",
                    reliable=True,
                    false_suspects=1.6,
                    false_suspects_low=0.0,
                    false_suspects_high=3.0,
                    label_errors=1.4,
                    share_low=0.0,
                    share_high=0.12,
                    confidence=0.95,
                    verdict="uncertain",
                ),
                top=[
                    suspect("a1b2c3", "dev", "1", "2", 0.012, 1),
                    suspect("d4e5f6", "test", "0", "2", 0.034, 2),  # its PNG is never written
                ],
            ),
            "train_label_issues": TrainLabelIssues(
                checked=146,
                suspected=4,
                folds=5,
                note="",
                top=[suspect("t1", "train", "2", "1", 0.05, 1)],
            ),
            "mismatch": Mismatch(
                auc=0.81,
                interval=(0.77, 0.85),
                distinguishable=True,
                train_dev_examples=15,
                dev_examples=30,
                interpretation="Dev is easy to tell from train-dev: the mismatch is real.",
                by_domain=[],
                gallery=[
                    GalleryItem(
                        id="g1",
                        label="2",
                        prediction="1",
                        score=0.97,
                        thumbnail="thumbnails/g1.png",
                    )
                ],
            ),
            "property_shift": [
                PropertyShift(
                    flag="blurry",
                    reference=reference,
                    rule=f"sharpness < {value}",
                    reference_examples=examples,
                    dev_share=share,
                    shifted=share > 0.5,
                )
                for reference, value, examples, share in (
                    ("all training", 0.05, 400, 0.83),
                    ("synthetic", 0.07, 300, 0.97),
                    ("handwritten", 0.01, 100, 0.11),
                )
            ],
            "neighbours": 3,
            "domain_grid": [
                DomainGrid(split=split, domain=domain, examples=examples, thumbnails=[path])
                for (split, domain, examples), path in zip(
                    (
                        ("train", "handwritten", 100),
                        ("train", "synthetic", 300),
                        ("dev", "handwritten", 60),
                    ),
                    ("thumbnails/h1.png", "thumbnails/s1.png", "thumbnails/d1.png"),
                    strict=True,
                )
            ],
        }
    )


def selection(*, with_winner: bool = True) -> SelectionRecord:
    rows = [
        CandidateRow(
            name="small_cnn",
            source="this run",
            value=0.0815,
            satisfied=True,
            failed=[],
            rank=1,
            measured={"dev.error": 0.0815},
        ),
        CandidateRow(
            name="mlp",
            source="this run",
            value=0.1234,
            satisfied=False,
            failed=[LATENCY_FAILED],
            rank=None,
            measured={"dev.error": 0.1234},
        ),
    ]
    if not with_winner:
        rows = [
            row.model_copy(update={"satisfied": False, "rank": None, "failed": [LATENCY_FAILED]})
            for row in rows
        ]
    return SelectionRecord(
        optimizing="dev.error",
        goal="minimize",
        thresholds=[
            Threshold(metric="latency_ms", max=100.0, min=None, description="latency_ms <= 100")
        ],
        candidates=rows,
        winner=rows[0] if with_winner else None,
        excluded_by={"latency_ms <= 100": 1 if with_winner else 2},
        explanation="small_cnn has the lowest dev error of the candidates within 100 ms.",
        warnings=["select.satisficing[0]: a warning about the thresholds."],
    )


# Where the pipeline keeps each input, relative to the project root.
PROJECT_LAYOUT = {
    "split": paths.SPLIT_REPORT,
    "models": paths.MODELS,
    "evaluation": paths.EVALUATION,
    "metrics": paths.METRICS,
    "analysis": paths.ANALYSIS,
    "selection": paths.SELECTION_FILE,
}


def write_fake_inputs(root: Path, layout: dict[str, Path] | None = None) -> dict[str, Path]:
    """Every input record for ARCHS under root, one folder per kind unless `layout` says
    otherwise; returns the directories (and the selection file) by kind."""
    names = ("split", "models", "evaluation", "metrics", "analysis")
    relative = layout or {name: Path(name) for name in names} | {
        "selection": Path("selection.json")
    }
    dirs = {name: root / path for name, path in relative.items()}
    write_record(dirs["split"] / "summary.json", split_summary())
    for arch in ARCHS:
        write_record(dirs["models"] / arch / "training.json", training(arch))
        write_record(dirs["metrics"] / f"{arch}.json", metrics(arch))
        write_record(dirs["evaluation"] / arch / "diagnosis.json", diagnosis(arch))
        (dirs["evaluation"] / arch / "confusion_dev.csv").write_text(
            "label,0,1,2\n0,9,1,0\n1,0,8,1\n2,1,0,10\n", encoding="utf-8"
        )
        write_record(dirs["analysis"] / f"{arch}.json", analysis(arch))
    for shade, thumbnail in enumerate(THUMBNAILS):
        path = dirs["analysis"] / "mlp" / thumbnail
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(40 * (shade + 1)))
    write_record(dirs["selection"], selection())
    return dirs


def load(dirs: dict[str, Path], architectures: tuple[str, ...] = ARCHS) -> ReportInputs:
    return load_report_inputs(
        dirs["split"],
        dirs["models"],
        dirs["evaluation"],
        dirs["metrics"],
        dirs["analysis"],
        dirs["selection"],
        list(architectures),
    )
