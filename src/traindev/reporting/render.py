"""HTML and Markdown rendering of the report, from loaded inputs and already-drawn figures.

Both renderers share one set of "view" helpers (rows of formatted cells), so the two formats
always show the same numbers. The HTML is self-contained (inline CSS, images as base64 data
URIs) so it opens offline and can be mailed as one file; the Markdown points at PNG files in a
figures folder next to it. Every string that came from an input file is escaped.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from traindev.reporting.inputs import SPLITS, ArchitectureResult, ReportInputs, SplitSummary

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

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .92rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { font-weight: bold; background: #fff8dc; }
tr.matters td { background: #fdecea; }
img { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
.note { color: #555; font-size: .92rem; }
"""


@dataclass(frozen=True)
class RenderedFigure:
    """One PNG: the bytes (embedded in HTML) and a file name (referenced from Markdown)."""

    filename: str
    alt: str
    png: bytes


@dataclass(frozen=True)
class ArchitectureFigures:
    learning_curves: RenderedFigure
    confusion_dev: RenderedFigure


@dataclass(frozen=True)
class ReportFigures:
    comparison: RenderedFigure
    per_architecture: dict[str, ArchitectureFigures]

    def all(self) -> list[RenderedFigure]:
        figures = [self.comparison]
        for entry in self.per_architecture.values():
            figures += [entry.learning_curves, entry.confusion_dev]
        return figures


@dataclass(frozen=True)
class Table:
    """Formatted cells; `numeric` columns are right-aligned, `emphasis` rows highlighted."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()
    emphasis: tuple[str, ...] = ()  # per row: "" or a CSS class ("best", "matters")
    css_class: str = ""


# ---------------------------------------------------------------------------------------------
# Formatting


def percent(value: float) -> str:
    """An error fraction as a percentage with two decimals; NaN/inf (empty split) as a dash."""
    return f"{value * 100:.2f}%" if math.isfinite(value) else MISSING


def number(value: float, decimals: int = 0) -> str:
    return f"{value:,.{decimals}f}" if math.isfinite(value) else MISSING


def split_label(split: str) -> str:
    return SPLIT_LABELS.get(split, split)


def _class_key(label: str) -> tuple[int, int, str]:
    """Sort "2" before "10", and numeric class names before the others."""
    return (0, int(label), "") if label.isdigit() else (1, 0, label)


def _ordered_splits(names: Sequence[str]) -> list[str]:
    known = [split for split in SPLITS if split in names]
    return known + sorted(name for name in names if name not in SPLITS)


def slug(name: str) -> str:
    """A file-name and HTML-id safe form of an architecture name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "arch"


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
        key=_class_key,
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


def comparison_table(architectures: Sequence[ArchitectureResult]) -> Table:
    header = (
        "Architecture", "Parameters", "MFLOPs/example", "Training time (s)",
        "Throughput (examples/s)", "Latency (ms/example)", "Train error", "Train-dev error",
        "Dev error", "Test error", "Dev F1",
    )  # fmt: skip
    best = best_dev(architectures)
    rows, emphasis = [], []
    for arch in architectures:
        bv, training = arch.metrics.bias_variance, arch.training
        dev = arch.metrics.splits.get("dev")
        mark = f" {BEST_MARK}" if arch.name in best else ""
        rows.append((
            arch.name,
            number(training.parameters),
            MISSING
            if training.flops_per_example is None
            else f"{training.flops_per_example / 1e6:,.2f}",
            number(training.train_seconds, 1),
            number(training.examples_per_second),
            MISSING if arch.metrics.latency_ms is None else f"{arch.metrics.latency_ms:.3f}",
            percent(bv.train_error),
            percent(bv.train_dev_error),
            percent(bv.dev_error) + mark,
            percent(bv.test_error),
            f"{dev.f1:.4f}" if dev is not None and math.isfinite(dev.f1) else MISSING,
        ))  # fmt: skip
        emphasis.append("best" if arch.name in best else "")
    return Table(
        header,
        tuple(rows),
        numeric=frozenset(range(1, len(header))),
        emphasis=tuple(emphasis),
        css_class="comparison",
    )


def bias_variance_table(arch: ArchitectureResult) -> Table:
    """Ng's table: the five levels, each with the named gap to the level below it."""
    bv = arch.metrics.bias_variance
    rows, emphasis = [], []
    for index, (label, field) in enumerate(LEVELS):
        if index < len(GAPS):
            name, gap_label = GAPS[index]
            gap = arch.diagnosis.gap(name)
            matters = gap is not None and gap.matters
            verdict = ("yes" if matters else "no") + (
                " (dominant)" if arch.diagnosis.dominant == name else ""
            )
            cells = (gap_label, percent(getattr(bv, name)), verdict)
        else:
            matters, cells = False, ("", "", "")
        rows.append((label, percent(getattr(bv, field)), *cells))
        emphasis.append("matters" if matters else "")
    return Table(
        ("Level", "Error", "Gap to next level", "Gap", "Matters"),
        tuple(rows),
        numeric=frozenset({1, 3}),
        emphasis=tuple(emphasis),
        css_class="bias-variance",
    )


def acting_gaps(arch: ArchitectureResult) -> list[tuple[str, str, list[str]]]:
    """(title, detail, knobs) for each gap the diagnosis says matters, dominant first."""
    gaps = sorted(
        (gap for gap in arch.diagnosis.gaps if gap.matters),
        key=lambda gap: gap.name != arch.diagnosis.dominant,
    )
    return [
        (
            gap.label + (" (dominant)" if gap.name == arch.diagnosis.dominant else ""),
            f"{percent(gap.value)}, {gap.between[0]} → {gap.between[1]}",
            list(gap.knobs),
        )
        for gap in gaps
    ]


def split_note(summary: SplitSummary) -> str:
    return (
        f"Target domain: {summary.target_domain}. "
        f"Duplicates dropped: {number(summary.duplicates_dropped)}. "
        f"Unused target examples (not assigned to any split): {number(summary.unused_target)}."
    )


def training_note(arch: ArchitectureResult) -> str:
    t = arch.training
    return f"{t.epochs} epochs on {t.device}, {number(t.train_seconds, 1)} s; run id {t.run_id}."


# ---------------------------------------------------------------------------------------------
# HTML


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _html_table(table: Table) -> str:
    css = f' class="{table.css_class}"' if table.css_class else ""
    head = "".join(f"<th>{_esc(cell)}</th>" for cell in table.header)
    body = []
    for index, row in enumerate(table.rows):
        emphasis = table.emphasis[index] if index < len(table.emphasis) else ""
        row_css = f' class="{emphasis}"' if emphasis else ""
        cells = "".join(
            f'<td class="num">{_esc(c)}</td>' if i in table.numeric else f"<td>{_esc(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr{row_css}>{cells}</tr>")
    return (
        f"<table{css}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody>\n</table>"
    )


def _html_image(figure: RenderedFigure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_esc(figure.alt)}">'


def _html_architecture(arch: ArchitectureResult, figures: ArchitectureFigures) -> str:
    gaps = acting_gaps(arch)
    if gaps:
        items = "\n".join(
            f"<li><strong>{_esc(title)}</strong> ({_esc(detail)})"
            + ("<ul>" + "".join(f"<li>{_esc(k)}</li>" for k in knobs) + "</ul>" if knobs else "")
            + "</li>"
            for title, detail, knobs in gaps
        )
        acting = f"<p>Gaps that matter, with the knobs to turn:</p>\n<ul>\n{items}\n</ul>"
    else:
        acting = "<p>No gap is large enough to act on.</p>"
    return f"""<section id="arch-{_esc(slug(arch.name))}" data-architecture="{_esc(arch.name)}">
<h2>{_esc(arch.name)}</h2>
<p class="note">{_esc(training_note(arch))}</p>
<h3>Bias / variance</h3>
{_html_table(bias_variance_table(arch))}
<h3>Diagnosis</h3>
<p class="diagnosis">{_esc(arch.diagnosis.summary)}</p>
{acting}
<h3>Learning curves</h3>
{_html_image(figures.learning_curves)}
<h3>Dev confusion matrix</h3>
{_html_image(figures.confusion_dev)}
</section>"""


def render_html(
    inputs: ReportInputs, figures: ReportFigures, title: str, generated_at: datetime
) -> str:
    """The whole report as one self-contained HTML page."""
    summary = inputs.split
    nav = " · ".join(
        f'<a href="#arch-{_esc(slug(a.name))}">{_esc(a.name)}</a>' for a in inputs.architectures
    )
    sections = "\n".join(
        _html_architecture(arch, figures.per_architecture[arch.name])
        for arch in inputs.architectures
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{_esc(title)}</h1>
<p class="meta">Generated {_esc(generated_at.isoformat(timespec="seconds"))}</p>
<p>{_esc(HOW_TO_READ)}</p>
<h2>Data splits</h2>
{_html_table(split_totals_table(summary))}
<h3>Examples per split and domain</h3>
{_html_table(split_domain_table(summary))}
<h3>Examples per split and class</h3>
{_html_table(split_class_table(summary))}
<p class="note">{_esc(split_note(summary))}</p>
<h2>Architecture comparison</h2>
{_html_table(comparison_table(inputs.architectures))}
<p class="note">{BEST_MARK} lowest dev error. Errors are on each whole split.</p>
{_html_image(figures.comparison)}
<p>Per architecture: {nav}</p>
{sections}
</body>
</html>
"""


# ---------------------------------------------------------------------------------------------
# Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(text: str) -> str:
    """Backslash-escape Markdown punctuation and fold newlines, so text stays literal."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _md_table(table: Table) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(md_escape(c) if c else " " for c in cells) + " |"

    align = ["---:" if i in table.numeric else "---" for i in range(len(table.header))]
    rows = []
    for index, row in enumerate(table.rows):
        emphasised = index < len(table.emphasis) and table.emphasis[index] == "best"
        cells = [f"**{md_escape(c)}**" if emphasised and c else md_escape(c) for c in row]
        rows.append("| " + " | ".join(c or " " for c in cells) + " |")
    return "\n".join([line(table.header), "| " + " | ".join(align) + " |", *rows])


def _md_image(figure: RenderedFigure, figures_dir: str) -> str:
    return f"![{md_escape(figure.alt)}]({figures_dir}/{figure.filename})"


def _md_architecture(arch: ArchitectureResult, figures: ArchitectureFigures, fig_dir: str) -> str:
    gaps = acting_gaps(arch)
    if gaps:
        lines = ["Gaps that matter, with the knobs to turn:", ""]
        for title, detail, knobs in gaps:
            lines.append(f"- **{md_escape(title)}** ({md_escape(detail)})")
            lines += [f"  - {md_escape(knob)}" for knob in knobs]
        acting = "\n".join(lines)
    else:
        acting = "No gap is large enough to act on."
    return f"""## {md_escape(arch.name)}

{md_escape(training_note(arch))}

### Bias / variance

{_md_table(bias_variance_table(arch))}

### Diagnosis

{md_escape(arch.diagnosis.summary)}

{acting}

### Learning curves

{_md_image(figures.learning_curves, fig_dir)}

### Dev confusion matrix

{_md_image(figures.confusion_dev, fig_dir)}
"""


def render_markdown(
    inputs: ReportInputs,
    figures: ReportFigures,
    title: str,
    generated_at: datetime,
    figures_dir: str = "figures",
) -> str:
    """The report as Markdown; images are PNG files under `figures_dir` (relative path)."""
    summary = inputs.split
    sections = "\n".join(
        _md_architecture(arch, figures.per_architecture[arch.name], figures_dir)
        for arch in inputs.architectures
    )
    return f"""# {md_escape(title)}

_Generated {generated_at.isoformat(timespec="seconds")}_

{HOW_TO_READ}

## Data splits

{_md_table(split_totals_table(summary))}

### Examples per split and domain

{_md_table(split_domain_table(summary))}

### Examples per split and class

{_md_table(split_class_table(summary))}

{md_escape(split_note(summary))}

## Architecture comparison

{_md_table(comparison_table(inputs.architectures))}

{BEST_MARK} lowest dev error. Errors are on each whole split.

{_md_image(figures.comparison, figures_dir)}

{sections}"""
