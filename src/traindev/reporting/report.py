"""The report stage: load every input, draw the figures, write report.html and report.md.

Everything is rendered in memory first and written into a temporary sibling of `out_dir`,
then moved into place with `os.replace`; a failure at any point leaves the previous report (or
no report) untouched, never a half-written one that DVC could cache as if it were complete.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from traindev.data.augmentation import AugmentationPreview
from traindev.records import ReportInputError, read_record
from traindev.records.selection import SelectionRecord
from traindev.records.split import SplitSummary
from traindev.reporting import plots
from traindev.reporting.inputs import (
    ArchitectureResult,
    ReportInputs,
    load_architecture,
    load_source_ablations,
    load_synthesis_diversity,
)
from traindev.reporting.render import (
    SECTIONS,
    ArchitectureFigures,
    RenderedFigure,
    ReportFigures,
    class_key,
    html_report,
    markdown_report,
    report_page,
    slug,
)

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
FIGURES_DIR = "figures"

__all__ = [
    "FIGURES_DIR",
    "HTML_NAME",
    "MARKDOWN_NAME",
    "ReportInputError",
    "ReportPaths",
    "build_figures",
    "class_error_series",
    "load_report_inputs",
    "write_report",
]


@dataclass(frozen=True)
class ReportPaths:
    """Where the report landed."""

    html: Path
    markdown: Path
    figures_dir: Path
    figures: tuple[Path, ...]
    missing_thumbnails: tuple[str, ...] = ()  # shown as placeholders; "path (reason)" each


def load_report_inputs(
    split_dir: Path,
    models_dir: Path,
    evaluation_dir: Path,
    metrics_dir: Path,
    analysis_dir: Path,
    selection_file: Path,
    architectures: list[str],
    augmentation: AugmentationPreview | None = None,
    synthesis_file: Path | None = None,
    source_ablation_dir: Path | None = None,
    split_dvc_md5: str | None = None,
) -> ReportInputs:
    """Read the split summary, the model selection and, per architecture, its training, metrics,
    evaluation and analysis files (analysis_dir/<arch>.json, thumbnails under analysis_dir/<arch>/).
    `augmentation` (drawn by the caller from the split) goes into the report as given;
    `synthesis_file` is the synthesize stage's diversity.json (absent: no diversity section);
    `source_ablation_dir` holds `traindev source-ablation`'s records (<arch>.json, each optional);
    `split_dvc_md5` is DVC's hash of the split now, against which a record is flagged as stale.

    Raises ReportInputError (MissingReportInputError for absent files) naming the file. A missing
    thumbnail is not an error: it is listed in each Analysis.missing_thumbnails.
    """
    if not architectures:
        raise ValueError("the report needs at least one architecture")
    if len(set(architectures)) != len(architectures):
        raise ValueError(f"architectures are listed twice: {architectures}")
    split = read_record(Path(split_dir) / "summary.json", SplitSummary)
    results = tuple(
        load_architecture(
            name, Path(models_dir), Path(evaluation_dir), Path(metrics_dir), Path(analysis_dir)
        )
        for name in architectures
    )
    return ReportInputs(
        split=split,
        architectures=results,
        selection=read_record(Path(selection_file), SelectionRecord),
        analysis_dir=Path(analysis_dir),
        augmentation=augmentation,
        synthesis=load_synthesis_diversity(Path(synthesis_file)) if synthesis_file else None,
        source_ablations=(
            load_source_ablations(Path(source_ablation_dir), architectures)
            if source_ablation_dir
            else ()
        ),
        split_dvc_md5=split_dvc_md5,
    )


def _unique_slugs(names: Sequence[str]) -> dict[str, str]:
    """Slug per name, suffixed when two names would share a file name ("a b" and "a-b")."""
    taken: set[str] = set()
    result: dict[str, str] = {}
    for name in names:
        base = candidate = slug(name)
        counter = 2
        while candidate in taken:
            candidate, counter = f"{base}-{counter}", counter + 1
        taken.add(candidate)
        result[name] = candidate
    return result


def class_error_series(arch: ArchitectureResult) -> tuple[list[str], dict[str, list[float]]]:
    """Train-dev and dev error per class: from the diagnosis's per-class rows when present,
    else from the metrics file's class_error (older diagnosis files have no per-class rows)."""
    per_class = arch.diagnosis.per_class
    if per_class:
        classes = [entry.label for entry in per_class]
        return classes, {
            level: [entry.errors.get(level, math.nan) for entry in per_class]
            for level in ("train-dev", "dev")
        }
    splits = arch.metrics.splits
    by_level = {
        level: splits[split].class_error
        for level, split in (("train-dev", "train_dev"), ("dev", "dev"))
        if split in splits and splits[split].class_error
    }
    if not by_level:
        return [], {}
    classes = sorted({c for errors in by_level.values() for c in errors}, key=class_key)
    return classes, {
        level: [errors.get(c, math.nan) for c in classes] for level, errors in by_level.items()
    }


def _class_errors_figure(arch: ArchitectureResult, file_slug: str) -> RenderedFigure | None:
    classes, series = class_error_series(arch)
    if not classes:
        return None
    png = plots.class_errors_png(classes, series, f"{arch.name}: error per class")
    return RenderedFigure(
        f"class_errors_{file_slug}.png", f"{arch.name} train-dev and dev error per class", png
    )


def _ceilings_figure(arch: ArchitectureResult, file_slug: str) -> RenderedFigure | None:
    review = arch.analysis.review
    if review is None or not review.table:
        return None
    png = plots.ceilings_png(
        [row.category for row in review.table],
        [row.ceiling for row in review.table],
        f"{arch.name}: error categories by ceiling",
    )
    return RenderedFigure(
        f"error_ceilings_{file_slug}.png", f"{arch.name} error categories by ceiling", png
    )


def label_error_series(arch: ArchitectureResult) -> dict[str, list[float]]:
    """A multi-label model's train, train-dev and dev error per label (NaN: no labels)."""
    splits = arch.metrics.splits
    return {
        level: [
            splits[split].label_error.get(label, math.nan) if split in splits else math.nan
            for label in arch.metrics.binary_labels
        ]
        for level, split in (("train", "train"), ("train-dev", "train_dev"), ("dev", "dev"))
    }


def _label_errors_figure(arch: ArchitectureResult, file_slug: str) -> RenderedFigure | None:
    if not arch.metrics.binary_labels:
        return None
    png = plots.class_errors_png(
        list(arch.metrics.binary_labels), label_error_series(arch), f"{arch.name}: error per label"
    )
    return RenderedFigure(
        f"label_errors_{file_slug}.png",
        f"{arch.name} train, train-dev and dev error per label",
        png,
    )


def _confusion_figure(arch: ArchitectureResult, file_slug: str) -> RenderedFigure | None:
    """The dev confusion matrix; a multi-label model's confusion file holds per-label counts,
    which the per-label table shows instead."""
    if arch.metrics.binary_labels:
        return None
    confusion = plots.confusion_matrix_png(arch.confusion_dev, f"{arch.name}: dev confusion")
    return RenderedFigure(
        f"confusion_dev_{file_slug}.png", f"{arch.name} dev confusion matrix", confusion
    )


def _architecture_figures(arch: ArchitectureResult, file_slug: str) -> ArchitectureFigures:
    learning = plots.learning_curves_png(arch.training.history, f"{arch.name}: learning curves")
    return ArchitectureFigures(
        learning_curves=RenderedFigure(
            f"learning_curves_{file_slug}.png", f"{arch.name} learning curves", learning
        ),
        confusion_dev=_confusion_figure(arch, file_slug),
        class_errors=_class_errors_figure(arch, file_slug),
        ceilings=_ceilings_figure(arch, file_slug),
        label_errors=_label_errors_figure(arch, file_slug),
    )


def build_figures(inputs: ReportInputs) -> ReportFigures:
    """Draw every figure of the report, in memory."""
    archs = inputs.architectures
    comparison = plots.error_comparison_png(
        [a.name for a in archs],
        {
            "train": [a.metrics.bias_variance.train_error for a in archs],
            "train-dev": [a.metrics.bias_variance.train_dev_error for a in archs],
            "dev": [a.metrics.bias_variance.dev_error for a in archs],
        },
    )
    slugs = _unique_slugs([a.name for a in archs])
    return ReportFigures(
        comparison=RenderedFigure(
            "error_comparison.png", "Train, train-dev and dev error by architecture", comparison
        ),
        per_architecture={a.name: _architecture_figures(a, slugs[a.name]) for a in archs},
        augmentation=_augmentation_figure(inputs.augmentation),
    )


def _augmentation_figure(preview: AugmentationPreview | None) -> RenderedFigure | None:
    if preview is None or not preview.enabled or preview.originals is None:
        return None
    png = plots.augmentation_grid_png(
        preview.originals, preview.rows, "Augmentation of the train split: each transform alone"
    )
    return RenderedFigure(
        "augmentation_preview.png", "Training images and their augmented versions", png
    )


def _write_staging(staging: Path, html: str, markdown: str, figures: ReportFigures) -> None:
    (staging / FIGURES_DIR).mkdir()
    for figure in figures.all():
        (staging / FIGURES_DIR / figure.filename).write_bytes(figure.png)
    (staging / MARKDOWN_NAME).write_text(markdown, encoding="utf-8")
    (staging / HTML_NAME).write_text(html, encoding="utf-8")


def _install(staging: Path, out_dir: Path, scratch: Path) -> None:
    """Move the staged report into out_dir; other files already in out_dir are left alone."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    old_figures = out_dir / FIGURES_DIR
    if old_figures.exists():
        # Park the old figures in the scratch dir (the caller removes it), so that figures of
        # architectures no longer in the report do not linger.
        os.replace(old_figures, scratch / f"old-{FIGURES_DIR}")
    os.replace(staging / FIGURES_DIR, out_dir / FIGURES_DIR)
    # The pages go last: they never point at figures that are not there yet.
    os.replace(staging / MARKDOWN_NAME, out_dir / MARKDOWN_NAME)
    os.replace(staging / HTML_NAME, out_dir / HTML_NAME)


def write_report(
    inputs: ReportInputs,
    out_dir: Path,
    title: str,
    *,
    generated_at: datetime | None = None,
    sections: Sequence[str] = tuple(SECTIONS),
) -> ReportPaths:
    """Render the report and write out_dir/report.html, report.md and figures/*.png;
    `sections` are the task's parts under each diagnosis (TaskSpec.report_sections)."""
    out_dir = Path(out_dir)
    when = generated_at or source_date()
    figures = build_figures(inputs)
    analysis_href = _relative_to(inputs.analysis_dir, out_dir)
    page = report_page(inputs, figures, title, when, analysis_href, sections)
    html = html_report(page)
    markdown = markdown_report(page, FIGURES_DIR)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # mkdtemp makes a 0700 directory; the report itself goes in a subfolder made with the
    # usual umask, so that a report moved whole into place is readable like any other output.
    scratch = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        staging = scratch / "report"
        staging.mkdir()
        _write_staging(staging, html, markdown, figures)
        _install(staging, out_dir, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    return ReportPaths(
        html=out_dir / HTML_NAME,
        markdown=out_dir / MARKDOWN_NAME,
        figures_dir=out_dir / FIGURES_DIR,
        figures=tuple(out_dir / FIGURES_DIR / f.filename for f in figures.all()),
        missing_thumbnails=tuple(
            item for arch in inputs.architectures for item in arch.analysis.missing_thumbnails
        ),
    )


def source_date() -> datetime | None:
    """SOURCE_DATE_EPOCH (the reproducible-builds convention) as the report's date, else none:
    the report is a DVC output, and a wall-clock stamp would make it differ on every run."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return None if not epoch else datetime.fromtimestamp(int(epoch), UTC)


def _relative_to(target: Path, start: Path) -> str:
    """target as a POSIX path relative to start ("analysis" for reports/analysis from reports),
    so the report's links survive moving the whole reports/ folder."""
    return Path(os.path.relpath(os.path.abspath(target), os.path.abspath(start))).as_posix()
