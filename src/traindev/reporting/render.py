"""The report's content, from loaded inputs and already-drawn figures, for both formats.

The builders below turn the inputs into "view" blocks (heading, paragraph, table, links,
figure, thumbnail gallery) and rows of formatted cells; the Jinja2 templates in
`reporting/templates/` lay the same blocks out as HTML and as Markdown, so the two formats
always show the same numbers and a new section is written once. The HTML is self-contained
(inline CSS, images as base64 data URIs) so it opens offline and can be mailed as one file; the
Markdown points at PNG files in a figures folder next to it. Every string that came from an
input file is escaped (autoescape in HTML, the `md` filter in Markdown). The exceptions are
deliberate: the error-analysis sheets and the Markdown thumbnails are links into the analysis
directory (relative to the report), because the sheets are meant to be opened and edited, and
inlining every thumbnail would bloat report.md's folder.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from traindev.data.augmentation import AugmentationPreview
from traindev.records.analysis import (
    DomainMismatch,
    GalleryItem,
    LabelIssues,
    PropertyShift,
    Suspect,
)
from traindev.records.diagnosis import ClassDiagnosis, DomainDiagnosis, DomainRows, Gap
from traindev.records.selection import SelectionRecord as Selection
from traindev.records.selection import Threshold
from traindev.records.source_ablation import AblationArm, SourceAblationRecord
from traindev.records.split import SplitSummary
from traindev.records.synthesis import SynthesisDiversity
from traindev.reporting import templating
from traindev.reporting.inputs import (
    GAP_NAMES,
    SPLITS,
    Analysis,
    ArchitectureResult,
    Diagnosis,
    Interval,
    ReportInputs,
)

SPLIT_LABELS = {"train": "Train", "train_dev": "Train-dev", "dev": "Dev", "test": "Test"}

# (row label, BiasVariance field) for the five levels, top to bottom ...
LEVELS: tuple[tuple[str, str], ...] = (
    ("Human-level", "human_level_error"),
    ("Train", "train_error"),
    ("Train-dev", "train_dev_error"),
    ("Dev", "dev_error"),
    ("Test", "test_error"),
)
# ... and (gap name, label) for the gap between each level and the next.
GAPS: tuple[tuple[str, str], ...] = (
    ("avoidable_bias", "Avoidable bias"),
    ("variance", "Variance"),
    ("data_mismatch", "Data mismatch"),
    ("dev_overfitting", "Overfitting to dev"),
)

HOW_TO_READ = (
    "Train and train-dev come from the training distribution (train-dev is held out from "
    "training); dev and test come from the target distribution. Read the bias / variance "
    "table top to bottom: human-level to train is avoidable bias, train to train-dev is "
    "variance, train-dev to dev is data mismatch, and dev to test is overfitting to dev. "
    "Work on the largest gap that matters first."
)

BEST_MARK = "★"
MISSING = "—"
ID_LIST_LIMIT = 20  # stale / unknown review ids listed before "and N more"


@dataclass(frozen=True)
class RenderedFigure:
    """One PNG: the bytes (embedded in HTML) and a file name (referenced from Markdown)."""

    filename: str
    alt: str
    png: bytes


@dataclass(frozen=True)
class ArchitectureFigures:
    learning_curves: RenderedFigure
    confusion_dev: RenderedFigure | None  # None for a multi-label model (no class matrix)
    class_errors: RenderedFigure | None = None  # when per-class errors were reported
    ceilings: RenderedFigure | None = None  # when a reviewed error sheet has categories
    label_errors: RenderedFigure | None = None  # a multi-label model's error per label

    def all(self) -> list[RenderedFigure]:
        optional = [self.confusion_dev, self.class_errors, self.ceilings, self.label_errors]
        return [self.learning_curves, *(f for f in optional if f)]


@dataclass(frozen=True)
class ReportFigures:
    comparison: RenderedFigure
    per_architecture: dict[str, ArchitectureFigures]
    augmentation: RenderedFigure | None = None  # the preview grid, when augmentation is on

    def all(self) -> list[RenderedFigure]:
        figures = [self.comparison, *([self.augmentation] if self.augmentation else [])]
        for entry in self.per_architecture.values():
            figures += entry.all()
        return figures


@dataclass(frozen=True)
class Table:
    """Formatted cells; `numeric` columns are right-aligned, `emphasis` rows highlighted."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()
    emphasis: tuple[str, ...] = ()  # per row: "" or a CSS class ("best", "matters")
    css_class: str = ""


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 3


@dataclass(frozen=True)
class Paragraph:
    text: str
    css_class: str = ""


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]
    css_class: str = ""


@dataclass(frozen=True)
class Link:
    text: str
    href: str  # relative to the report, already URL-quoted


@dataclass(frozen=True)
class Links:
    lead: str
    links: tuple[Link, ...]


@dataclass(frozen=True)
class FigureBlock:
    figure: RenderedFigure


@dataclass(frozen=True)
class Thumbnail:
    """An example's image: embedded in HTML when readable, linked from Markdown."""

    href: str  # relative to the report
    alt: str
    png: bytes | None  # None: missing or unreadable, drawn as a placeholder


@dataclass(frozen=True)
class Tile:
    cells: tuple[str, ...]  # one per Gallery.header
    thumbnail: Thumbnail


@dataclass(frozen=True)
class Gallery:
    """Example thumbnails with a caption each: a grid in HTML, a table of links in Markdown."""

    header: tuple[str, ...]
    tiles: tuple[Tile, ...]


Block = Heading | Paragraph | Bullets | Links | Table | FigureBlock | Gallery


# ---------------------------------------------------------------------------------------------
# Formatting


def percent(value: float) -> str:
    """An error fraction as a percentage with two decimals; NaN/inf (empty split) as a dash."""
    return f"{value * 100:.2f}%" if math.isfinite(value) else MISSING


def number(value: float, decimals: int = 0) -> str:
    return f"{value:,.{decimals}f}" if math.isfinite(value) else MISSING


def split_label(split: str) -> str:
    return SPLIT_LABELS.get(split, split)


def class_key(label: str) -> tuple[int, int, str]:
    """Sort "2" before "10", and numeric class names before the others."""
    return (0, int(label), "") if label.isdigit() else (1, 0, label)


def _ordered_splits(names: Sequence[str]) -> list[str]:
    known = [split for split in SPLITS if split in names]
    return known + sorted(name for name in names if name not in SPLITS)


def slug(name: str) -> str:
    """A file-name and HTML-id safe form of an architecture name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "arch"


def interval_text(interval: Interval | None, decimals: int | None = None) -> str:
    """'low to high' as percentages (or plain numbers with `decimals`); a dash when unknown."""
    if interval is None or not all(math.isfinite(end) for end in interval):
        return MISSING
    low, high = interval
    if decimals is None:
        return f"{percent(low)} to {percent(high)}"
    return f"{low:.{decimals}f} to {high:.{decimals}f}"


def ci_label(confidence: float | None) -> str:
    """'95% CI' for confidence 0.95; plain 'CI' when the file did not say."""
    return f"{confidence * 100:g}% CI" if confidence is not None else "CI"


def is_fraction_metric(name: str) -> bool:
    """Errors and gaps are fractions shown as percentages; accuracy, F1, latency are not."""
    lowered = name.lower()
    return "error" in lowered or any(gap in lowered for gap in GAP_NAMES)


def metric_text(name: str, value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return MISSING
    return percent(value) if is_fraction_metric(name) else f"{value:.4g}"


def delta_text(name: str, delta: float) -> str:
    """A signed change; percentage *points* for fractions, so -1.60 pts is not read as -1.6%."""
    if not math.isfinite(delta):
        return MISSING
    return f"{delta * 100:+.2f} pts" if is_fraction_metric(name) else f"{delta:+.4g}"


def relative_href(*parts: str) -> str:
    """A relative URL from path parts; each part may itself contain "/" separators."""
    return "/".join(quote(part.strip("/"), safe="/") for part in parts if part.strip("/"))


def id_list(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:ID_LIST_LIMIT])
    more = len(ids) - ID_LIST_LIMIT
    return shown + (f" and {more} more" if more > 0 else "")


def gap_label(name: str) -> str:
    return dict(GAPS).get(name, name)


# ---------------------------------------------------------------------------------------------
# Views: the tables both formats show


def split_totals_table(summary: SplitSummary) -> Table:
    splits = _ordered_splits(list(summary.totals) + list(summary.counts))
    rows = tuple((split_label(s), number(summary.totals.get(s, 0))) for s in splits)
    return Table(("Split", "Examples"), rows, numeric=frozenset({1}))


def split_domain_table(summary: SplitSummary) -> Table:
    splits = _ordered_splits(list(summary.counts))
    domains = sorted({d for split in summary.counts.values() for d in split})
    header = ("Split", *(_domain_label(d, summary.target_domain) for d in domains), "Total")
    rows = []
    for split in splits:
        per_domain = [sum(summary.counts[split].get(d, {}).values()) for d in domains]
        rows.append((split_label(split), *map(number, per_domain), number(sum(per_domain))))
    return Table(header, tuple(rows), numeric=frozenset(range(1, len(header))))


def _domain_label(domain: str, target: str) -> str:
    return f"{domain} (target)" if domain == target else domain


def split_class_table(summary: SplitSummary) -> Table:
    splits = _ordered_splits(list(summary.counts))
    classes = sorted(
        {c for split in summary.counts.values() for dom in split.values() for c in dom},
        key=class_key,
    )
    rows = []
    for split in splits:
        domains = summary.counts[split].values()
        rows.append(
            (split_label(split), *(number(sum(d.get(c, 0) for d in domains)) for c in classes))
        )
    return Table(("Split", *classes), tuple(rows), numeric=frozenset(range(1, len(classes) + 1)))


def best_dev(architectures: Sequence[ArchitectureResult]) -> set[str]:
    """Names of the architectures tied for the lowest finite dev error."""
    errors = {a.name: a.metrics.bias_variance.dev_error for a in architectures}
    finite = [e for e in errors.values() if math.isfinite(e)]
    return {name for name, e in errors.items() if finite and e == min(finite)}


def weighted_dev_error(arch: ArchitectureResult) -> float | None:
    """Dev error under the evaluate stage's class / tag weights, when it reported one."""
    dev = arch.metrics.splits.get("dev")
    return None if dev is None else dev.weighted_error


def weights_matter(arch: ArchitectureResult) -> bool:
    """The weighted dev error says something the dev error does not: error_weights are set
    and move it (with no weights the two agree up to rounding)."""
    weighted = weighted_dev_error(arch)
    error = arch.metrics.bias_variance.dev_error
    return weighted is not None and not math.isclose(weighted, error, rel_tol=1e-9, abs_tol=1e-12)


def comparison_table(architectures: Sequence[ArchitectureResult]) -> Table:
    """One row per architecture, narrow enough for the page (report.css lets headers wrap):
    a column only where it carries information, so the weighted dev error only when the
    evaluate stage's error weights moved it."""
    header = (
        "Architecture", "Parameters", "MFLOPs / example", "Train error", "Train-dev error",
        "Dev error", "Test error", "Dev F1",
    )  # fmt: skip
    weighted = [weighted_dev_error(arch) for arch in architectures]
    show_weighted = any(weights_matter(arch) for arch in architectures)
    if show_weighted:
        header = (*header, "Weighted dev error")
    best = best_dev(architectures)
    rows, emphasis = [], []
    for arch, weighted_error in zip(architectures, weighted, strict=True):
        bv, training = arch.metrics.bias_variance, arch.training
        dev = arch.metrics.splits.get("dev")
        mark = f" {BEST_MARK}" if arch.name in best else ""
        extra = (metric_text("error", weighted_error),) if show_weighted else ()
        rows.append((
            arch.name,
            number(training.parameters),
            MISSING
            if training.flops_per_example is None
            else f"{training.flops_per_example / 1e6:,.2f}",
            percent(bv.train_error),
            percent(bv.train_dev_error),
            percent(bv.dev_error) + mark,
            percent(bv.test_error),
            f"{dev.f1:.4f}" if dev is not None and dev.f1 is not None else MISSING,
            *extra,
        ))  # fmt: skip
        emphasis.append("best" if arch.name in best else "")
    return Table(
        header,
        tuple(rows),
        numeric=frozenset(range(1, len(header))),
        emphasis=tuple(emphasis),
        css_class="comparison",
    )


# The diagnosis file keys its row intervals by these level names (LEVELS order).
LEVEL_KEYS: tuple[str, ...] = ("human-level", "train", "train-dev", "dev", "test")


def too_few_text(count: int) -> str:
    return f"too few examples (n={count})"


def verdict(diagnosis: Diagnosis, name: str) -> str:
    """The Matters cell of one pooled gap (see gap_verdict)."""
    return gap_verdict(diagnosis.gap(name), diagnosis.dominant == name)


def gap_verdict(gap: Gap | None, dominant: bool) -> str:
    """'yes' / 'no', qualified by '(dominant)' and '(within noise)' where they apply; a
    negative gap says which level is easier, and a gap on too few examples is not judged."""
    if gap is not None and gap.too_few is not None:
        return f"not judged: {too_few_text(gap.too_few)}"
    if gap is not None and gap.negative:
        lower, upper = gap.between
        return f"no: negative, {upper} easier than {lower}"
    qualifiers = [
        text
        for text, applies in (
            ("dominant", dominant),
            ("within noise", gap is not None and gap.within_noise),
            (
                "below zero, within noise",
                gap is not None and not gap.within_noise and gap.value < 0,
            ),
        )
        if applies
    ]
    base = "yes" if gap is not None and gap.matters else "no"
    return base + (f" ({', '.join(qualifiers)})" if qualifiers else "")


def domain_error_text(errors: dict[str, float], counts: dict[str, int], row: str) -> str:
    """'10.38% (n=809)' for a per-domain cell; a dash where the domain has no example."""
    count = counts.get(row, 0)
    if not count:
        return MISSING
    text = f"{percent(errors.get(row, math.nan))} (n={number(count)})"
    return text


def _domain_cells(domains: DomainDiagnosis | None, key: str) -> tuple[str, ...]:
    """One level's cell for each training domain (the target also shows dev and test)."""
    if domains is None:
        return ()
    cells = []
    for row in domains.rows:
        if key in row.counts:
            cell = domain_error_text(row.errors, row.counts, key)
            low, _ = row.error_intervals.get(key, (math.nan, math.nan))
            if row.counts.get(key) and not math.isfinite(low):
                cell += ", too few"
        elif row.target and domains.target_errors and key in ("dev", "test"):
            cell = percent(domains.target_errors.get(key, math.nan))
        else:
            cell = MISSING
        cells.append(cell)
    return tuple(cells)


def domain_header(row: DomainRows) -> str:
    return f"{row.domain} (target) error" if row.target else f"{row.domain} error"


def bias_variance_table(arch: ArchitectureResult) -> Table:
    """Ng's table: the five levels, each with the named gap to the level below it, both with
    their confidence intervals (a dash where the diagnosis file has none). When training
    mixes domains, each domain's train and train-dev error sits beside the pooled rows."""
    bv, diagnosis = arch.metrics.bias_variance, arch.diagnosis
    domains = diagnosis.domains
    ci = ci_label(diagnosis.confidence)
    rows, emphasis = [], []
    for index, ((label, field), key) in enumerate(zip(LEVELS, LEVEL_KEYS, strict=True)):
        level = (
            label,
            percent(getattr(bv, field)),
            interval_text(diagnosis.row_intervals.get(key)),
            *_domain_cells(domains, key),
        )
        if index < len(GAPS):
            name, name_label = GAPS[index]
            gap = diagnosis.gap(name)
            matters = gap is not None and gap.matters
            cells = (
                name_label,
                percent(getattr(bv, name)),
                interval_text(diagnosis.gap_interval(name)),
                verdict(diagnosis, name),
            )
        else:
            matters, cells = False, ("", "", "", "")
        rows.append((*level, *cells))
        emphasis.append("matters" if matters else "")
    extra = tuple(domain_header(row) for row in domains.rows) if domains else ()
    first_gap = 3 + len(extra)
    return Table(
        (
            "Level",
            "Pooled error" if extra else "Error",
            f"Error {ci}",
            *extra,
            "Gap to next level",
            "Gap",
            f"Gap {ci}",
            "Matters",
        ),
        tuple(rows),
        numeric=frozenset({1, 2, *range(3, first_gap), first_gap + 1, first_gap + 2}),
        emphasis=tuple(emphasis),
        css_class="bias-variance",
    )


def domain_blocks(arch: ArchitectureResult) -> list[Block]:
    """The per-domain reading: the target's own table, judged, and what it says."""
    domains = arch.diagnosis.domains
    if domains is None:
        return []
    blocks: list[Block] = [
        Heading("Per domain", 4),
        Paragraph(
            "Train and train-dev mix domains, so the pooled rows above can hide where the "
            "error is. The domain columns split each pooled row by domain; the target's own "
            "table (its training rows, its train-dev rows, then dev and test) isolates a real "
            "mismatch (the target's train-dev rows against dev) from bias and variance on the "
            "target."
        ),
        Paragraph(domains.summary),
    ]
    if domains.target_gaps:
        ci = ci_label(arch.diagnosis.confidence)
        rows = []
        for gap in domains.target_gaps:
            rows.append(
                (
                    f"{gap.label} on the target",
                    f"{gap.between[0]} → {gap.between[1]}",
                    percent(gap.value),
                    interval_text(gap.interval),
                    gap_verdict(gap, gap.name == domains.target_dominant),
                )
            )
        blocks.append(
            Table(
                ("Target's own gap", "Levels", "Gap", f"Gap {ci}", "Matters"),
                tuple(rows),
                numeric=frozenset({2, 3}),
                emphasis=tuple("matters" if g.matters else "" for g in domains.target_gaps),
                css_class="target-gaps",
            )
        )
    return blocks


def confidence_note(diagnosis: Diagnosis) -> str | None:
    if diagnosis.confidence is None:
        return None
    return (
        f"Intervals are {ci_label(diagnosis.confidence)}s (confidence "
        f"{diagnosis.confidence:g}). A gap marked “within noise” "
        "could be sampling noise at this confidence: confirm it on more examples before "
        "turning its knobs."
    )


def bias_variance_blocks(arch: ArchitectureResult) -> list[Block]:
    note = confidence_note(arch.diagnosis)
    return [
        Heading("Bias / variance"),
        bias_variance_table(arch),
        *([Paragraph(note, "note")] if note else []),
        *domain_blocks(arch),
    ]


def per_class_error_text(entry: ClassDiagnosis, level: str) -> str:
    """A class's error on one level; marked when measured on too few examples to judge (the
    diagnosis then leaves that level's interval empty although the level has examples)."""
    text = percent(entry.errors.get(level, math.nan))
    count = entry.counts.get(level, entry.counts.get(level.replace("-", "_"), 0))
    intervals = entry.error_intervals or {}
    if count and level in intervals and not all(map(math.isfinite, intervals[level])):
        text += f" ({too_few_text(count)})"
    return text


def _class_verdict(entry: ClassDiagnosis) -> tuple[str, str, str]:
    """(dominant gap, gap, interval): "none stands out" when no gap dominates."""
    if entry.dominant is not None:
        gap = entry.gaps.get(entry.dominant)
        return (
            gap_label(entry.dominant),
            MISSING if gap is None else percent(gap.value),
            MISSING if gap is None else interval_text(gap.interval),
        )
    few = sorted({gap.too_few for gap in entry.gaps.values() if gap.too_few is not None})
    if few:
        return (f"none judged: {too_few_text(few[0])}", MISSING, MISSING)
    return ("none stands out", MISSING, MISSING)


def per_class_table(arch: ArchitectureResult) -> Table | None:
    """Every class, with the gap that dominates its own table or "none stands out"; a row
    measured on too few examples says so instead of claiming an interval. None when the
    diagnosis has no per-class rows."""
    diagnosis = arch.diagnosis
    if not diagnosis.per_class:
        return None
    ci = ci_label(diagnosis.confidence)
    rows, emphasis = [], []
    for entry in diagnosis.per_class:
        rows.append((
            entry.label,
            number(entry.counts["dev"]) if "dev" in entry.counts else MISSING,
            per_class_error_text(entry, "train"),
            per_class_error_text(entry, "train-dev"),
            per_class_error_text(entry, "dev"),
            *_class_verdict(entry),
        ))  # fmt: skip
        emphasis.append("matters" if entry.dominant is not None else "")
    header = ("Class", "Dev examples", "Train error", "Train-dev error", "Dev error",
              "Dominant gap", "Gap", f"Gap {ci}")  # fmt: skip
    return Table(
        header,
        tuple(rows),
        numeric=frozenset({1, 2, 3, 4, 6, 7}),
        emphasis=tuple(emphasis),
        css_class="per-class",
    )


def per_class_blocks(arch: ArchitectureResult, figures: ArchitectureFigures) -> list[Block]:
    blocks: list[Block] = []
    table = per_class_table(arch)
    if table is not None:
        blocks += [Heading("Per class"), table]
        if not any(entry.dominant for entry in arch.diagnosis.per_class):
            blocks.append(Paragraph("No class has a gap that matters."))
    if figures.class_errors is not None:
        if not blocks:
            blocks.append(Heading("Per class"))
        blocks.append(FigureBlock(figures.class_errors))
    return blocks


def label_error_text(arch: ArchitectureResult, split: str, label: str) -> str:
    """A label's error on a split with its label count, e.g. '3.20% (125)'; a dash if none."""
    metrics = arch.metrics.splits.get(split)
    counts, errors = (metrics.label_count or {}, metrics.label_error or {}) if metrics else ({}, {})
    if not counts.get(label):
        return MISSING
    return f"{percent(errors.get(label, math.nan))} ({number(counts[label])})"


def _dev_score(arch: ArchitectureResult, field: str, label: str) -> str:
    dev = arch.metrics.splits.get("dev")
    value = math.nan if dev is None else (getattr(dev, field) or {}).get(label, math.nan)
    return f"{value:.3f}" if math.isfinite(value) else MISSING


def per_label_table(arch: ArchitectureResult) -> Table:
    """Each label's error per split (labels present in parentheses), dev scores and the gap
    that dominates the label's own bias / variance table."""
    diagnoses = {entry.label: entry for entry in arch.diagnosis.per_label}
    scores = ("label_precision", "label_recall", "label_f1")
    rows = []
    for label in arch.metrics.binary_labels or ():
        entry = diagnoses.get(label)
        rows.append(
            (
                label,
                *(label_error_text(arch, split, label) for split in SPLITS),
                *(_dev_score(arch, field, label) for field in scores),
                MISSING if entry is None else gap_label(entry.dominant or "none"),
            )
        )
    header = (
        "Task",
        *(f"{split_label(split)} error" for split in SPLITS),
        "Dev precision",
        "Dev recall",
        "Dev F1",
        "Dominant gap",
    )
    return Table(header, tuple(rows), numeric=frozenset(range(1, 8)), css_class="per-label")


def per_label_blocks(arch: ArchitectureResult, figures: ArchitectureFigures) -> list[Block]:
    """A multi-label model's errors label by label; nothing for a softmax model."""
    if not arch.metrics.binary_labels:
        return []
    blocks: list[Block] = [
        Heading("Per label"),
        per_label_table(arch),
        Paragraph(
            "Multi-label model (a sigmoid per label, predicted yes at probability 0.5). Each "
            "label's error counts only the images labelled for it, shown in parentheses; the "
            "bias / variance table above pools every present (example, label) cell, and Dev "
            "F1 in the comparison is the mean of the labels' F1. The dominant gap is each "
            "label's own diagnosis, with the same thresholds and intervals.",
            "note",
        ),
    ]
    if figures.label_errors is not None:
        blocks.append(FigureBlock(figures.label_errors))
    return blocks


def sheet_links(analysis: Analysis, base: str) -> list[Block]:
    """Links to the two sheets the analyze stage wrote (HTML to read, CSV to review)."""
    blocks: list[Block] = []
    for title, sheet in (("Errors", analysis.errors_sheet), ("Correct", analysis.correct_sheet)):
        if sheet is None:
            continue
        links = tuple(
            Link(name, relative_href(base, name)) for name in dict.fromkeys((sheet.html, sheet.csv))
        )
        blocks.append(Links(f"{title} sheet ({number(sheet.rows)} rows):", links))
    return blocks


def review_blocks(analysis: Analysis, figures: ArchitectureFigures) -> list[Block]:
    review = analysis.review
    if review is None:
        return [Paragraph(analysis.review_hint, "hint")]
    blocks: list[Block] = [
        Paragraph(f"Reviewed {number(review.reviewed)} errors in {review.path}.")
    ]
    if review.table:
        rows = tuple(
            (row.category, number(row.count), percent(row.percent_of_errors), percent(row.ceiling))
            for row in review.table
        )
        blocks += [
            Table(
                ("Category", "Count", "% of errors", "Ceiling"),
                rows,
                numeric=frozenset({1, 2, 3}),
                css_class="review",
            ),
            Paragraph(
                "Ceiling: the most the dev error can fall by fixing every error of the "
                "category. An error may have several categories, so the rows can add up to "
                "more than 100%.",
                "note",
            ),
        ]
    else:
        blocks.append(Paragraph("The reviewed sheet ticks no category yet."))
    if figures.ceilings is not None:
        blocks.append(FigureBlock(figures.ceilings))
    if review.stale_ids:
        blocks.append(
            Paragraph(
                f"Reviewed rows that are no longer errors (stale; their ticks are ignored): "
                f"{id_list(review.stale_ids)}.",
                "warning",
            )
        )
    if review.unknown_ids:
        blocks.append(
            Paragraph(
                f"Reviewed rows whose id is not a dev example (ignored): "
                f"{id_list(review.unknown_ids)}.",
                "warning",
            )
        )
    return blocks


def error_analysis_blocks(
    arch: ArchitectureResult, figures: ArchitectureFigures, base: str
) -> list[Block]:
    """Sheets, property thresholds and the reviewed categories (or how to review)."""
    analysis = arch.analysis
    if analysis.note:  # a multi-label model: no sheets, and the analysis says where to look
        return [Heading("Error analysis"), Paragraph(analysis.note, "note")]
    blocks: list[Block] = [
        Heading("Error analysis"),
        Paragraph(
            f"{number(analysis.misclassified_dev)} misclassified dev examples "
            f"(dev error {percent(analysis.dev_error)})."
        ),
        *sheet_links(analysis, base),
    ]
    if analysis.property_thresholds:
        blocks += [
            Paragraph("The sheets flag these image properties:"),
            Table(
                ("Property", "Flagged when"),
                tuple(analysis.property_thresholds.items()),
                css_class="properties",
            ),
        ]
    blocks += property_shift_blocks(analysis.property_shift)
    if analysis.neighbours:
        blocks.append(
            Paragraph(
                f"Each sheet row also names its {analysis.neighbours} nearest training examples "
                "in the model's penultimate features (train.neighbour<r>.id / domain / label, "
                "images in the HTML sheet): neighbours from another domain mean the model has "
                "nothing like this image from its own distribution."
            )
        )
    blocks += domain_grid_blocks(analysis, base)
    blocks += review_blocks(analysis, figures)
    correct = analysis.correct_review
    if correct is not None:
        blocks.append(
            Paragraph(
                f"Correct-sheet review ({correct.path}): {number(correct.incorrectly_labeled)} "
                f"of {number(correct.reviewed)} reviewed correctly-classified examples are "
                "incorrectly labeled."
            )
        )
    return blocks


def property_shift_blocks(shifts: Sequence[PropertyShift]) -> list[Block]:
    """Per flag, the share of dev beyond each training reference's tail (a table)."""
    if not shifts:
        return []
    references = list(dict.fromkeys(shift.reference for shift in shifts))
    flags = list(dict.fromkeys(shift.flag for shift in shifts))
    cell = {(shift.flag, shift.reference): shift for shift in shifts}

    def text(shift: PropertyShift | None) -> str:
        if shift is None:
            return MISSING
        return f"{percent(shift.dev_share)}{' (shifted)' if shift.shifted else ''}"

    rows = tuple(
        (flag, *(text(cell.get((flag, reference))) for reference in references)) for flag in flags
    )
    shifted = sorted({f"{s.flag} vs {s.reference}" for s in shifts if s.shifted})
    return [
        Paragraph(
            "Dev against the training distribution: the share of all dev images that each "
            "flag marks when the training images (all, then each domain) set its threshold. "
            "On its own reference a flag marks the property quantile; far more means the "
            "whole target differs there, which the within-dev flags cannot show."
        ),
        Table(
            ("Flag", *(f"dev beyond {reference}" for reference in references)),
            rows,
            numeric=frozenset(range(1, len(references) + 1)),
            css_class="properties",
        ),
        Paragraph(
            f"Shifted: {', '.join(shifted)}." if shifted else "No property shift stands out."
        ),
    ]


def domain_grid_blocks(analysis: Analysis, base: str) -> list[Block]:
    """A few images of each training domain and of dev, one gallery each."""
    if not analysis.domain_grid:
        return []
    blocks: list[Block] = [
        Paragraph("What each distribution looks like (a seeded sample of each):")
    ]
    for grid in analysis.domain_grid:
        name = f"{split_label(grid.split)} · {grid.domain}"
        blocks += [
            Paragraph(f"{name}: {len(grid.thumbnails)} of {number(grid.examples)} images"),
            Gallery(
                ("Domain",),
                tuple(
                    Tile((grid.domain,), thumbnail(analysis, path, base, f"{name} example"))
                    for path in grid.thumbnails
                ),
            ),
        ]
    return blocks


def thumbnail(analysis: Analysis, relative: str, base: str, alt: str) -> Thumbnail:
    return Thumbnail(relative_href(base, relative), alt, analysis.thumbnails.get(relative))


def suspects_gallery(analysis: Analysis, suspects: Sequence[Suspect], base: str) -> Gallery:
    return Gallery(
        ("Rank", "Split", "Label", "Suggested", "Quality"),
        tuple(
            Tile(
                (str(s.rank), split_label(s.split), s.label, s.suggested, number(s.quality, 3)),
                thumbnail(analysis, s.thumbnail, base, f"{s.id}: labeled {s.label}"),
            )
            for s in suspects
        ),
    )


# The label verdict in a table cell (analysis.label_issues.label_error_impact decides it).
LABEL_VERDICTS = {
    "none": "no dev errors",
    "unreliable": "withheld: improve the model first",
    "worth_fixing": "worth fixing now",
    "uncertain": "uncertain: view the top suspects",
    "not_priority": "not the priority",
}


def false_suspects_note(issues: LabelIssues) -> str:
    alarms = issues.false_suspects
    if alarms is None:
        return ""
    return (
        f" Expected false suspects: {alarms.expected:.1f} of {number(alarms.observed)} "
        f"({alarms.low:.0f} to {alarms.high:.0f}), what a model of this error rate flags when "
        f"every label is right (its confidence calibrated on {alarms.calibrated_on})."
    )


def label_impact_table(analysis: Analysis) -> Table | None:
    issues = analysis.label_issues
    if issues is None:
        return None
    impact = issues.impact
    rows = [
        ("Dev error", percent(impact.dev_error)),
        ("Error from suspected labels", percent(impact.error_from_labels)),
        ("Error from other causes", percent(impact.error_other)),
        ("Share of errors from suspected labels", percent(impact.share_of_errors)),
    ]
    if impact.verdict is not None:  # None: a record from before the false-alarm count
        rows += [
            (
                "Of those, expected on correct labels",
                f"{impact.false_suspects:.1f} ({impact.false_suspects_low:.0f} to "
                f"{impact.false_suspects_high:.0f})",
            ),
            (
                f"Share of errors that are label errors ({impact.confidence:.0%} interval)",
                f"{percent(impact.share_low)} to {percent(impact.share_high)}",
            ),
        ]
    rows += [
        ("Dev error without the suspected rows", percent(impact.error_without_suspected)),
        (
            "Verdict",
            LABEL_VERDICTS[impact.verdict]
            if impact.verdict is not None
            else ("worth fixing now" if impact.worth_fixing else "not the priority"),
        ),
    ]
    return Table(("Quantity", "Value"), rows, numeric=frozenset({1}), css_class="label-impact")


def label_issue_blocks(arch: ArchitectureResult, base: str) -> list[Block]:
    analysis = arch.analysis
    if analysis.note:  # not run (multi-label); error_analysis_blocks shows the note
        return []
    issues, train = analysis.label_issues, analysis.train_label_issues
    blocks: list[Block] = [Heading("Label issues")]
    table = label_impact_table(analysis)
    if issues is None or table is None:
        blocks.append(Paragraph("This analysis did not check the dev and test labels."))
    else:
        blocks += [
            Paragraph(
                f"Suspected incorrect labels: {number(issues.suspected_dev)} in dev, "
                f"{number(issues.suspected_test)} in test.{false_suspects_note(issues)}"
            ),
            Paragraph(issues.impact.sentence),
            table,
        ]
        if issues.top:
            blocks += [
                Paragraph("Top suspects (lowest label quality first):"),
                suspects_gallery(analysis, issues.top, base),
            ]
    if train is not None:
        blocks.append(
            Paragraph(
                f"Training-set check: {number(train.suspected)} of {number(train.checked)} "
                f"training examples suspected, from {train.folds}-fold out-of-sample predictions."
            )
        )
        if train.top:
            blocks.append(suspects_gallery(analysis, train.top, base))
    return blocks


def mismatch_blocks(arch: ArchitectureResult, base: str) -> list[Block]:
    analysis = arch.analysis
    if analysis.note:
        return []
    mismatch = analysis.mismatch
    blocks: list[Block] = [Heading("Data mismatch")]
    if mismatch is None:
        blocks.append(Paragraph("This analysis did not compare train-dev with dev."))
        return blocks
    interval = interval_text(mismatch.interval, decimals=3)
    pooled = Paragraph(
        f"A classifier telling train-dev ({number(mismatch.train_dev_examples)} examples) "
        f"from dev ({number(mismatch.dev_examples)} examples) reaches AUC "
        f"{number(mismatch.auc, 3)} (interval {interval}); 0.5 would mean the two "
        "distributions cannot be told apart."
    )
    mixed = len(mismatch.by_domain) > 1 and mismatch.summary
    if mixed:
        # Train-dev mixes domains: the per-domain AUCs lead, the pooled one is their mix.
        blocks += [
            Paragraph(mismatch.summary),
            Paragraph(
                "The same check for each training domain's train-dev examples alone "
                "(synthesized rows apart from real ones):"
            ),
            domain_mismatch_table(mismatch.by_domain),
            Paragraph(domain_mismatch_sentence(mismatch.by_domain)),
            pooled,
        ]
    else:
        blocks += [pooled, Paragraph(mismatch.interpretation)]
        if mismatch.by_domain:
            blocks += [
                Paragraph(
                    "The same check for each training domain's train-dev examples alone "
                    "(synthesized rows apart from real ones):"
                ),
                domain_mismatch_table(mismatch.by_domain),
                Paragraph(domain_mismatch_sentence(mismatch.by_domain)),
            ]
    if mismatch.gallery:
        blocks += [
            Paragraph(MISMATCH_GALLERY_NOTE),
            mismatch_gallery(analysis, mismatch.gallery, base),
        ]
    blocks += training_side_blocks(analysis, mismatch.by_domain, base)
    return blocks


MISMATCH_GALLERY_NOTE = (
    "Dev examples most unlike the training distribution. P(dev) is the probability, given by "
    "the classifier above (a linear model on this model's features, scored out of fold, "
    "class-balanced), that the example comes from dev rather than train-dev: 0.5 means it "
    "looks like training data, near 1 that nothing in train-dev resembles it."
)
TRAINING_SIDE_NOTE = (
    "The training side, per train-dev domain (its own check against dev): the examples with "
    "the highest P(dev) are where it overlaps dev, those with the lowest are what it "
    "typically looks like and dev does not. Set beside the dev gallery above, they show what "
    "differs."
)


def mismatch_gallery(analysis: Analysis, items: Sequence[GalleryItem], base: str) -> Gallery:
    """Scored examples with their label, the model's prediction and P(dev)."""
    return Gallery(
        ("Label", "Prediction", "P(dev)"),
        tuple(
            Tile(
                (item.label, item.prediction, number(item.score, 3)),
                thumbnail(analysis, item.thumbnail, base, f"{item.id}: labeled {item.label}"),
            )
            for item in items
        ),
    )


def training_side_blocks(
    analysis: Analysis, entries: Sequence[DomainMismatch], base: str
) -> list[Block]:
    """Each checked train-dev domain's most dev-like and most train-dev-like examples."""
    shown = [entry for entry in entries if entry.dev_like or entry.train_dev_like]
    if not shown:
        return []
    blocks: list[Block] = [Paragraph(TRAINING_SIDE_NOTE)]
    for entry in shown:
        name = domain_name(entry)
        for items, what in (
            (entry.dev_like, "most like dev (highest P(dev))"),
            (entry.train_dev_like, "most like its own training data (lowest P(dev))"),
        ):
            if items:
                blocks += [
                    Paragraph(f"Train-dev · {name}: {what}"),
                    mismatch_gallery(analysis, items, base),
                ]
    return blocks


def domain_name(entry: DomainMismatch) -> str:
    """'handwritten (target)', 'fonts (synthetic)': a train-dev group and what it is, as
    analysis.mismatch names it (a domain called "synthetic" is not marked twice)."""
    flags = (("target", entry.target), ("synthetic", entry.synthetic))
    marks = [mark for mark, on in flags if on and mark != entry.domain]
    return entry.domain + (f" ({', '.join(marks)})" if marks else "")


def domain_mismatch_table(entries: Sequence[DomainMismatch]) -> Table:
    rows = tuple(
        (
            f"{entry.domain} (target)" if entry.target else entry.domain,
            "synthetic" if entry.synthetic else "real",
            number(entry.train_dev_examples),
            percent(entry.share) if math.isfinite(entry.share) else MISSING,
            MISSING if entry.skipped else number(entry.auc, 3),
            f"skipped: {entry.skipped}" if entry.skipped else interval_text(entry.interval, 3),
        )
        for entry in entries
    )
    header = (
        "Train-dev domain", "Origin", "Train-dev examples", "Share of train-dev", "AUC vs dev",
        "Interval",
    )  # fmt: skip
    return Table(header, rows, numeric=frozenset({2, 3, 4}), css_class="mismatch-by-domain")


def domain_mismatch_sentence(entries: Sequence[DomainMismatch]) -> str:
    """Synthesized against real train-dev, each against dev: the before / after-synthesis
    comparison one run can make. Intervals that overlap read as "about as far"."""
    checked = [entry for entry in entries if not entry.skipped]
    synthetic = [entry for entry in checked if entry.synthetic]
    real = [entry for entry in checked if not entry.synthetic]
    if not checked:
        return "No training domain had enough train-dev examples for a check of its own."
    if not synthetic:
        why = (
            "The synthesized train-dev examples are too few for a check of their own"
            if any(entry.synthetic for entry in entries)
            else "No train-dev example is synthesized"
        )
        return (
            f"{why}, so this run has no synthetic-against-real comparison; a domain far above "
            "0.5 is one the model can tell from dev."
        )
    if not real:
        return (
            "Only synthesized train-dev could be checked: an AUC near 0.5 would mean the model "
            "cannot tell the synthetic data from dev."
        )
    fake = max(synthetic, key=lambda entry: entry.train_dev_examples)
    true = max(real, key=lambda entry: entry.train_dev_examples)
    names = (
        f"synthesized train-dev ({fake.domain}, AUC {number(fake.auc, 2)}) and real "
        f"train-dev ({true.domain}, AUC {number(true.auc, 2)})"
    )
    if _interval_above(fake, true):
        return (
            f"Of {names}, the synthetic data sits further from dev: the model still tells it "
            "apart, so synthesis that looks more like dev should narrow the data-mismatch gap."
        )
    if _interval_above(true, fake):
        return (
            f"Of {names}, the synthetic data sits closer to dev: the real training data, not "
            "the synthesis, is what differs most from dev."
        )
    return (
        f"The {names} sit about as far from dev (overlapping intervals): to the model the "
        "synthetic data is as close to dev as the real training data."
    )


def _interval_above(high: DomainMismatch, low: DomainMismatch) -> bool:
    """True when `high`'s interval lies wholly above `low`'s (unknown ends: False)."""
    if high.interval is None or low.interval is None:
        return False
    return high.interval[0] > low.interval[1]


def confusion_blocks(figures: ArchitectureFigures) -> list[Block]:
    """The dev confusion matrix; none for a multi-label model (its labels are in Per label)."""
    if figures.confusion_dev is None:
        return []
    return [Heading("Dev confusion matrix"), FigureBlock(figures.confusion_dev)]


def missing_thumbnail_blocks(arch: ArchitectureResult) -> list[Block]:
    missing = arch.analysis.missing_thumbnails
    if not missing:
        return []
    return [
        Paragraph("Thumbnails that could not be shown (placeholders instead):", "warning"),
        Bullets(missing, "warning"),
    ]


# The report's parts under each diagnosis, by the name a task lists them with
# (traindev.tasks: TaskSpec.report_sections picks and orders them); each takes the architecture,
# its figures and `base`, the link to its analysis directory relative to the report.
SECTIONS: dict[str, Callable[[ArchitectureResult, ArchitectureFigures, str], list[Block]]] = {
    "per_label": lambda arch, figures, base: per_label_blocks(arch, figures),
    "per_class": lambda arch, figures, base: per_class_blocks(arch, figures),
    "error_analysis": error_analysis_blocks,
    "label_issues": lambda arch, figures, base: label_issue_blocks(arch, base),
    "mismatch": lambda arch, figures, base: mismatch_blocks(arch, base),
}


def detail_blocks(
    arch: ArchitectureResult,
    figures: ArchitectureFigures,
    base: str,
    sections: Sequence[str] = tuple(SECTIONS),
) -> list[Block]:
    """Everything under the diagnosis: the task's `sections`, in its order."""
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown report sections {unknown}; known: {', '.join(SECTIONS)}")
    return [block for name in sections for block in SECTIONS[name](arch, figures, base)]


def _bounds(threshold: Threshold) -> str:
    bounds = []
    if threshold.min is not None:
        bounds.append(f"≥ {threshold.min:g}")
    if threshold.max is not None:
        bounds.append(f"≤ {threshold.max:g}")
    return f"{threshold.metric} {' and '.join(bounds)}"


def threshold_text(selection: Selection) -> str:
    if not selection.thresholds:
        return "No satisficing thresholds applied here."
    parts = [_bounds(threshold) for threshold in selection.thresholds]
    return "Satisficing thresholds (every one must hold): " + "; ".join(parts) + "."


# Latency is a property of the machine at the time: the report (a DVC output, byte for byte
# the same for the same inputs) says how it is measured and where its figures are.
RUN_TIME_NOTE = (
    "Checked on each run, not here: {thresholds}. These measure the machine under its load at "
    "the time, not the model: latency is a low quantile of many timed batch-1 forward passes "
    "after a warm-up, on one thread, yet the same model can measure a hundred times slower "
    "beside another job. Each run's figure and its spread (median, p90, max) are in "
    "reports/runs/<arch>/evaluation.json and MLflow (final.latency_ms, "
    "final.latency_median_ms, final.latency_p90_ms); reports/runs/selection.json applies "
    "these thresholds too and moves the registry alias. For a threshold that holds under any "
    "load, use parameters or flops_per_example."
)


def run_time_text(selection: Selection) -> str | None:
    if not selection.run_time_thresholds:
        return None
    listed = "; ".join(_bounds(threshold) for threshold in selection.run_time_thresholds)
    return RUN_TIME_NOTE.format(thresholds=listed)


def candidates_table(selection: Selection) -> Table:
    winner = selection.winner
    rows, emphasis = [], []
    for c in selection.candidates:
        won = winner is not None and c.name == winner.name
        rows.append((
            c.name + (f" {BEST_MARK}" if won else ""),
            c.source,
            metric_text(selection.optimizing, c.value),
            "yes" if c.satisfied else "no",
            "; ".join(c.failed),
            MISSING if c.rank is None else str(c.rank),
        ))  # fmt: skip
        emphasis.append("best" if won else "")
    return Table(
        ("Candidate", "Source", selection.optimizing, "Satisfied", "Failed thresholds", "Rank"),
        tuple(rows),
        numeric=frozenset({2, 5}),
        emphasis=tuple(emphasis),
        css_class="selection",
    )  # fmt: skip


# This report is a DVC output, so it shows only what its inputs determine; run ids, timings,
# latency and the registry's champion version differ between runs of the same inputs.
CHAMPION_NOTE = (
    "The winner among these architectures and earlier MLflow runs on the same split "
    "(select.include_earlier_runs) gets the select.alias alias in the MLflow model registry; "
    "reports/runs/selection.json and the MLflow UI show that choice with run ids and the "
    "measured latency."
)


def selection_blocks(selection: Selection) -> list[Block]:
    """One optimizing metric, satisficing thresholds, the pick and where it was registered."""
    winner = selection.winner
    if winner is None:
        pick = "Winner: none."
    else:
        value = metric_text(selection.optimizing, winner.value)
        pick = f"Winner: {winner.name} ({winner.source}), {selection.optimizing} {value}."
    blocks: list[Block] = [
        Heading("Model selection", 2),
        Paragraph(f"Optimizing metric: {selection.optimizing} ({selection.goal})."),
        Paragraph(threshold_text(selection)),
        *([Paragraph(note, "note")] if (note := run_time_text(selection)) else []),
        candidates_table(selection)
        if selection.candidates
        else Paragraph("No candidate to choose from."),
        Paragraph(selection.explanation),
    ]
    if selection.warnings:
        blocks += [Paragraph("Warnings:", "warning"), Bullets(selection.warnings, "warning")]
    blocks += [Paragraph(pick), Paragraph(CHAMPION_NOTE)]
    return blocks


def acting_gaps(arch: ArchitectureResult) -> list[tuple[str, str, list[str]]]:
    """(title, detail, knobs) for each gap the diagnosis says matters, dominant first.

    With per-domain rows, the target's own gaps that matter follow the pooled ones, and a
    pooled data mismatch that is only the mix of domains in train-dev gives way to them:
    its knobs (synthesis, data like dev) would not touch the target's own problem.
    """
    diagnosis = arch.diagnosis
    domains = diagnosis.domains
    composition = domains is not None and domains.composition
    gaps = sorted(
        (
            gap
            for gap in diagnosis.gaps
            if gap.matters and not (composition and gap.name == "data_mismatch")
        ),
        key=lambda gap: gap.name != diagnosis.dominant,
    )
    found = [
        (
            gap.label + (" (dominant)" if gap.name == diagnosis.dominant else ""),
            f"{percent(gap.value)}, {gap.between[0]} → {gap.between[1]}",
            list(gap.knobs),
        )
        for gap in gaps
    ]
    for gap in (domains.target_gaps or []) if domains is not None else []:
        if gap.matters and gap.name != "dev_overfitting":
            found.append(
                (
                    f"{gap.label} on the target's own rows",
                    f"{percent(gap.value)}, target {gap.between[0]} → {gap.between[1]}",
                    list(gap.knobs),
                )
            )
    return found


def split_note(summary: SplitSummary) -> str:
    near = summary.near_duplicates_dropped
    return (
        f"Target domain: {summary.target_domain}. "
        f"Duplicates dropped: {number(summary.duplicates_dropped)}. "
        + ("" if near is None else f"Near-duplicates of dev/test dropped from train: {near}. ")
        + f"Unused target examples (not assigned to any split): {number(summary.unused_target)}."
        + missing_classes_note(summary)
    )


def missing_classes_note(summary: SplitSummary) -> str:
    """The classes a split lacks (the notes' class-distribution mismatch), said by the table."""
    if not summary.missing_classes:
        return ""
    listed = "; ".join(
        f"{split_label(split)}: {', '.join(labels)}"
        for split, labels in summary.missing_classes.items()
    )
    return f" Classes with no example in a split (see the warnings below): {listed}."


def synthesis_blocks(diversity: SynthesisDiversity | None) -> list[Block]:
    """How varied the synthetic pool is: the notes' caveat that synthesis from a narrow pool
    (an hour of car noise, twenty car models) lets the model overfit to that pool."""
    if diversity is None:
        return []
    if not diversity.count:
        return [Heading("Synthetic data"), Paragraph("None (synthesize.count: 0).")]
    covering = f"Sources making up {percent(diversity.coverage)}"
    rows = tuple(
        (
            name,
            number(pool.images),
            number(pool.distinct),
            number(pool.effective, 1),
            percent(pool.top_share),
            number(pool.covering),
        )
        for name, pool in diversity.pools.items()
    )
    header = ("Pool", "Images", "Distinct sources", "Effective sources", "Largest share", covering)
    blocks: list[Block] = [
        Heading("Synthetic data"),
        Paragraph(
            f"{number(diversity.count)} images from the {diversity.source} recipe. Effective "
            "sources: exp(entropy) of the shares, the number of equally used sources that would "
            f"be as varied; below {number(diversity.min_effective_sources, 1)} "
            "(synthesize.diversity.min_effective_sources) the pool is flagged as narrow."
        ),
        Table(header, rows, numeric=frozenset({1, 2, 3, 4, 5})),
    ]
    if diversity.warnings:
        blocks += [Paragraph("Warnings:", "warning"), Bullets(diversity.warnings, "warning")]
    return blocks


def split_confidence_blocks(summary: SplitSummary) -> list[Block]:
    """Whether dev can tell two models apart and test can pin the final error (the notes:
    dev big enough to detect the differences you care about), with the split's warnings."""
    confidence = summary.confidence
    if confidence is None:
        return []
    rows = tuple(
        (
            split_label(split),
            number(entry.examples),
            f"±{percent(entry.half_width)}",
            percent(entry.resolvable_difference) if split == "dev" else MISSING,
            number(entry.examples_needed),
            "yes" if entry.big_enough else "no",
        )
        for split, entry in confidence.sets.items()
    )
    header = (
        "Set",
        "Examples",
        "95% half-width",
        "Smallest difference it resolves",
        f"Examples for {percent(confidence.min_resolvable_difference)}",
        "Big enough",
    )
    lead = Paragraph(
        f"For an error near {percent(confidence.expected_error)} (split.expected_error): dev "
        f"should tell apart models whose errors differ by "
        f"{percent(confidence.min_resolvable_difference)} (split.min_resolvable_difference), "
        "test should pin the final error to within that."
    )
    blocks: list[Block] = [
        Heading("Are dev and test big enough?"),
        lead,
        Table(header, rows, numeric=frozenset({1, 2, 3, 4})),
    ]
    if summary.warnings:
        blocks += [Paragraph("Warnings:", "warning"), Bullets(summary.warnings, "warning")]
    return blocks


def augmentation_blocks(
    preview: AugmentationPreview | None, figure: RenderedFigure | None
) -> list[Block]:
    """The train split's augmentation: off in one line, or what each transform does and the
    preview grid (each transform alone on a few training images, then all of them)."""
    if preview is None or not preview.enabled or figure is None:
        return [
            Paragraph(
                "Off: every split, train included, is used as stored "
                "(train.augment.enabled: false)."
            )
        ]
    return [
        Paragraph(
            "Applied on the fly to the train split only, in DataLoader worker processes; "
            "train-dev, dev, test and every error measurement see the images as stored. "
            "Each image's augmentation is seeded by (train.seed, epoch, image), so a run is "
            "reproducible. The transforms, in order:"
        ),
        Bullets(preview.notes),
        Paragraph(
            "Top row: training images as stored; then each transform applied alone (always, "
            "whatever its p); last row: the whole pipeline with its probabilities, as epoch 1 "
            "drew it.",
            "note",
        ),
        FigureBlock(figure),
    ]


ARM_LABELS = {
    "all": "All training data",
    "target_only": "Target only",
    "weighted": "Source weighted",
}
OUTCOME_LABELS = {
    "lower": "lower",
    "higher": "higher",
    "no measurable difference": "no difference we can measure",
}


def arm_label(arm: AblationArm) -> str:
    label = ARM_LABELS[arm.mode]
    return f"{label} ({arm.weight:g})" if arm.weight is not None else label


def source_ablation_blocks(
    records: Sequence[SourceAblationRecord],
    architectures: Sequence[str],
    split_dvc_md5: str | None = None,
) -> list[Block]:
    """Per architecture with a `traindev source-ablation` record: the three arms' dev errors,
    the paired differences and the verdict (flagged when it ran on another split than
    today's); one line saying how to run it otherwise."""
    done = {record.architecture for record in records}
    blocks: list[Block] = []
    for record in records:
        blocks += _ablation_blocks(record)
        if split_dvc_md5 is not None and record.split_dvc_md5 != split_dvc_md5:
            blocks.append(
                Paragraph(
                    f"Stale: these experiments trained on another split "
                    f"({record.split_dvc_md5 or 'unknown'}) than this report's "
                    f"({split_dvc_md5}); re-run `traindev source-ablation --arch "
                    f"{record.architecture}`.",
                    "warning",
                )
            )
    missing = [name for name in architectures if name not in done]
    if missing:
        blocks.append(
            Paragraph(
                f"Not measured for {', '.join(missing)}: `traindev source-ablation --arch "
                "NAME` trains the architecture on all the training data, on the target's "
                "rows only and with the source weighted (three DVC experiments) and shows "
                "the verdict here.",
                "note",
            )
        )
    return blocks


def _ablation_blocks(record: SourceAblationRecord) -> list[Block]:
    ci = ci_label(record.confidence)
    labels = {arm.mode: arm_label(arm) for arm in record.arms}
    arms = Table(
        header=(
            "Training rows",
            "Rows seen",
            "Of them source",
            "Target train error",
            "Dev error",
            ci,
            "Experiment",
        ),
        rows=tuple(
            (
                labels[arm.mode],
                number(arm.train_rows),
                number(arm.source_rows),
                percent(arm.target_train_error),
                percent(arm.dev_error),
                interval_text(arm.dev_interval),
                arm.experiment,
            )
            for arm in record.arms
        ),
        numeric=frozenset({1, 2, 3, 4}),
        emphasis=tuple("best" if arm.mode == record.best else "" for arm in record.arms),
    )
    comparisons = Table(
        header=("Dev error of", "minus", "Difference", f"Paired {ci}", "Outcome"),
        rows=tuple(
            (
                labels[c.first],
                labels[c.second],
                f"{c.difference * 100:+.2f}%",
                interval_text(c.interval),
                OUTCOME_LABELS[c.outcome],
            )
            for c in record.comparisons
        ),
        numeric=frozenset({2}),
    )
    domains = ", ".join(record.target_domains)
    return [
        Heading(record.architecture),
        Paragraph(
            f"Target: {domains}; {record.dev_examples} dev examples, the same rows for every arm."
        ),
        arms,
        comparisons,
        Paragraph(record.reading),
    ]


def training_note(arch: ArchitectureResult) -> str:
    t = arch.training
    return f"{t.epochs_run} of {t.epochs} epochs on {t.device}."


# ---------------------------------------------------------------------------------------------
# Pages: what the templates in reporting/templates/ lay out, the same for HTML and Markdown


@dataclass(frozen=True)
class ArchitectureSection:
    """One architecture's part of the report, in reading order."""

    name: str
    anchor: str  # the HTML id is "arch-<anchor>"
    note: str
    bias_variance: tuple[Block, ...]
    summary: str
    gaps: tuple[tuple[str, str, list[str]], ...]  # (title, detail, knobs), see acting_gaps
    details: tuple[Block, ...]
    learning_curves: RenderedFigure
    confusion: tuple[Block, ...]
    missing_thumbnails: tuple[Block, ...]


@dataclass(frozen=True)
class ReportPage:
    """Everything the report pages show, already formatted; the templates only lay it out."""

    title: str
    generated: str | None  # None: no date (SOURCE_DATE_EPOCH unset), the report is reproducible
    how_to_read: str
    split_totals: Table
    split_domains: Table
    split_classes: Table
    split_note: str
    split_confidence: tuple[Block, ...]
    synthesis: tuple[Block, ...]
    augmentation: tuple[Block, ...]
    comparison: Table
    source_ablation: tuple[Block, ...]
    comparison_figure: RenderedFigure
    best_mark: str
    selection: tuple[Block, ...]
    architectures: tuple[ArchitectureSection, ...]


def architecture_section(
    arch: ArchitectureResult,
    figures: ArchitectureFigures,
    analysis_href: str,
    sections: Sequence[str] = tuple(SECTIONS),
) -> ArchitectureSection:
    return ArchitectureSection(
        name=arch.name,
        anchor=slug(arch.name),
        note=training_note(arch),
        bias_variance=tuple(bias_variance_blocks(arch)),
        summary=arch.diagnosis.summary,
        gaps=tuple(acting_gaps(arch)),
        details=tuple(
            detail_blocks(arch, figures, relative_href(analysis_href, arch.name), sections)
        ),
        learning_curves=figures.learning_curves,
        confusion=tuple(confusion_blocks(figures)),
        missing_thumbnails=tuple(missing_thumbnail_blocks(arch)),
    )


def report_page(
    inputs: ReportInputs,
    figures: ReportFigures,
    title: str,
    generated_at: datetime | None,
    analysis_href: str = "analysis",
    sections: Sequence[str] = tuple(SECTIONS),
) -> ReportPage:
    """The report's content; `analysis_href` (relative to the pages) is where the links to the
    error-analysis sheets and thumbnails point, under `<analysis_href>/<arch>/`; `sections` are
    the task's parts under each diagnosis (TaskSpec.report_sections)."""
    summary = inputs.split
    return ReportPage(
        title=title,
        generated=None if generated_at is None else generated_at.isoformat(timespec="seconds"),
        how_to_read=HOW_TO_READ,
        split_totals=split_totals_table(summary),
        split_domains=split_domain_table(summary),
        split_classes=split_class_table(summary),
        split_note=split_note(summary),
        split_confidence=tuple(split_confidence_blocks(summary)),
        synthesis=tuple(synthesis_blocks(inputs.synthesis)),
        augmentation=tuple(augmentation_blocks(inputs.augmentation, figures.augmentation)),
        comparison=comparison_table(inputs.architectures),
        source_ablation=tuple(
            source_ablation_blocks(
                inputs.source_ablations,
                [arch.name for arch in inputs.architectures],
                inputs.split_dvc_md5,
            )
        ),
        comparison_figure=figures.comparison,
        best_mark=BEST_MARK,
        selection=tuple(selection_blocks(inputs.selection)),
        architectures=tuple(
            architecture_section(arch, figures.per_architecture[arch.name], analysis_href, sections)
            for arch in inputs.architectures
        ),
    )


def html_report(page: ReportPage) -> str:
    """One self-contained HTML page: inline CSS, figures and thumbnails as data URIs; only the
    error-analysis sheets are links."""
    return templating.render_html("report.html", page=page)


def markdown_report(page: ReportPage, figures_dir: str = "figures") -> str:
    """The same report as Markdown: figures are PNG files under `figures_dir` (relative to the
    Markdown file), thumbnails and sheets are links."""
    return templating.render_markdown("report.md", page=page, figures_dir=figures_dir)
