"""The report's figures, each returned as PNG bytes.

Figures are built on `matplotlib.figure.Figure` directly, never through pyplot: no global
figure registry, no GUI backend, safe in worker threads and headless CI. PNG metadata is
stripped of the matplotlib version so that the same inputs give the same bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from traindev.records.training import Epoch as EpochRecord
from traindev.reporting.inputs import ConfusionMatrix

DPI = 100
SERIES_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


def png_bytes(figure: Figure, bbox_inches: str | None = None) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(
        buffer, format="png", dpi=DPI, metadata={"Software": None}, bbox_inches=bbox_inches
    )
    return buffer.getvalue()


def percent_points(values: Sequence[float]) -> list[float]:
    """Fractions to percentages; NaN stays NaN so matplotlib leaves a gap instead of a 0."""
    return [value * 100.0 if math.isfinite(value) else math.nan for value in values]


def literal(text: str) -> str:
    """Text matplotlib draws as written: a pair of "$" in a name would otherwise be mathtext."""
    return text.replace("$", r"\$")


def _grouped_bars(
    groups: Sequence[str], series: Mapping[str, Sequence[float]], what: str, title: str
) -> Figure:
    """One group of bars per name, one bar per series; `series` values are error fractions."""
    width = min(12.0, max(5.0, (0.35 * len(series) + 0.25) * len(groups) + 2.5))
    figure = Figure(figsize=(width, 3.6), layout="constrained")
    axes = figure.add_subplot()
    bar_width = 0.8 / max(1, len(series))
    for index, (label, errors) in enumerate(series.items()):
        if len(errors) != len(groups):
            raise ValueError(f"series {label!r} has {len(errors)} values for {len(groups)} {what}")
        offset = (index - (len(series) - 1) / 2) * bar_width
        positions = [i + offset for i in range(len(groups))]
        bars = axes.bar(
            positions,
            percent_points(errors),
            bar_width,
            label=literal(label),
            color=SERIES_COLORS[index % len(SERIES_COLORS)],
        )
        axes.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    axes.set_xticks(range(len(groups)), [literal(name) for name in groups])
    axes.set_ylabel("error (%)")
    axes.set_title(literal(title))
    axes.margins(y=0.15)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize=8)
    return figure


def error_comparison_png(
    architectures: Sequence[str], series: Mapping[str, Sequence[float]]
) -> bytes:
    """Grouped bars: one group per architecture, one bar per series (e.g. train, train-dev, dev).

    `series` maps a legend label to one error fraction per architecture, in the same order.
    """
    return png_bytes(_grouped_bars(architectures, series, "architectures", "Error by architecture"))


def class_errors_png(
    classes: Sequence[str], series: Mapping[str, Sequence[float]], title: str
) -> bytes:
    """Grouped bars per class (e.g. train-dev vs dev): shows which classes the mismatch hits."""
    return png_bytes(_grouped_bars(classes, series, "classes", title))


def ceilings_png(categories: Sequence[str], ceilings: Sequence[float], title: str) -> bytes:
    """Horizontal bars of each error category's ceiling, in the order given (first on top).

    The ceiling is how far the dev error could fall if every error of the category were fixed,
    so the longest bar is the category most worth working on.
    """
    if len(categories) != len(ceilings):
        raise ValueError(f"{len(categories)} categories but {len(ceilings)} ceilings")
    height = min(9.0, max(2.0, 0.35 * len(categories) + 1.2))
    figure = Figure(figsize=(6.5, height), layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(literal(title), fontsize=10)
    if not categories:
        axes.text(0.5, 0.5, "no reviewed category", ha="center", va="center")
        axes.set_axis_off()
        return png_bytes(figure)
    positions = range(len(categories))
    bars = axes.barh(positions, percent_points(ceilings), color=SERIES_COLORS[0])
    axes.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    axes.set_yticks(positions, [literal(name) for name in categories])
    axes.invert_yaxis()
    axes.set_xlabel("ceiling: most the dev error can fall (percentage points)")
    axes.margins(x=0.15)
    axes.grid(axis="x", alpha=0.3)
    return png_bytes(figure)


def learning_curves_png(history: Sequence[EpochRecord], title: str) -> bytes:
    """Errors per epoch on the left, training loss on the right (their scales differ)."""
    figure = Figure(figsize=(8.0, 3.2), layout="constrained")
    errors_axes, loss_axes = figure.subplots(1, 2)
    figure.suptitle(title, fontsize=10)
    if not history:
        for axes in (errors_axes, loss_axes):
            axes.text(0.5, 0.5, "no training history", ha="center", va="center")
            axes.set_axis_off()
        return png_bytes(figure)
    epochs = [record.epoch for record in history]
    curves = {
        "train": [record.train_error for record in history],
        "train-dev": [record.train_dev_error for record in history],
        "dev": [record.dev_error for record in history],
    }
    for index, (label, errors) in enumerate(curves.items()):
        errors_axes.plot(
            epochs, percent_points(errors), marker=".", label=label, color=SERIES_COLORS[index]
        )
    for axes in (errors_axes, loss_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    errors_axes.set_xlabel("epoch")
    errors_axes.set_ylabel("error (%)")
    errors_axes.set_title("Error", fontsize=9)
    errors_axes.grid(alpha=0.3)
    errors_axes.legend(fontsize=8)
    loss_axes.plot(epochs, [record.loss for record in history], marker=".", color="#8172b3")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("training loss")
    loss_axes.set_title("Loss", fontsize=9)
    loss_axes.grid(alpha=0.3)
    return png_bytes(figure)


def confusion_matrix_png(matrix: ConfusionMatrix, title: str) -> bytes:
    """Heatmap of counts, each cell annotated; rows are true classes, columns predictions."""
    rows, columns = len(matrix.true_labels), len(matrix.predicted_labels)
    side = min(9.0, max(3.5, 0.45 * max(rows, columns) + 2.0))
    figure = Figure(figsize=(side + 0.8, side), layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=10)
    if rows == 0 or columns == 0:
        axes.text(0.5, 0.5, "empty confusion matrix", ha="center", va="center")
        axes.set_axis_off()
        return png_bytes(figure)
    image = axes.imshow(matrix.counts, cmap="Blues", vmin=0, aspect="equal")
    figure.colorbar(image, ax=axes, shrink=0.8)
    largest = max(max(row) for row in matrix.counts)
    fontsize = 8 if max(rows, columns) <= 12 else 6
    for i, row in enumerate(matrix.counts):
        for j, count in enumerate(row):
            dark = largest > 0 and count > largest / 2
            axes.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=fontsize,
                color="white" if dark else "black",
            )
    axes.set_xticks(range(columns), list(matrix.predicted_labels))
    axes.set_yticks(range(rows), list(matrix.true_labels))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    return png_bytes(figure)


def augmentation_grid_png(
    originals: np.ndarray, rows: Sequence[tuple[str, np.ndarray]], title: str
) -> bytes:
    """One row per transform, one column per training image; the top row is the originals.

    Images are float (k, H, W, C) in [0, 1]; grey ones are drawn with ink dark on white, as
    the thumbnails are, so a row reads like the data it came from.
    """
    count = len(originals)
    labelled = [("original", originals), *rows]
    cell = 0.9
    size = (2.8 + cell * count, 0.35 + cell * len(labelled))
    figure = Figure(figsize=size, layout="constrained")
    figure.suptitle(literal(title), fontsize=10)
    grid = figure.subplots(len(labelled), count, squeeze=False)
    for row_index, (label, images) in enumerate(labelled):
        for column, axes in enumerate(grid[row_index]):
            image = np.clip(images[column], 0.0, 1.0)
            if image.shape[-1] == 1:
                axes.imshow(image[..., 0], cmap="gray_r", vmin=0.0, vmax=1.0)
            else:
                axes.imshow(image[..., :3])
            axes.set_xticks([])
            axes.set_yticks([])
        grid[row_index][0].set_ylabel(
            literal(_wrapped(label)), rotation=0, ha="right", va="center", fontsize=7
        )
    # A long transform label can be wider than the room constrained layout leaves it: the
    # saved image grows to hold it rather than cutting it off at the left edge.
    return png_bytes(figure, bbox_inches="tight")


def _wrapped(label: str, width: int = 34) -> str:
    """Break a long transform label after commas so the row label stays narrow."""
    lines, current = [], ""
    for part in label.split(", "):
        candidate = f"{current}, {part}" if current else part
        if current and len(candidate) > width:
            lines.append(current + ",")
            current = part
        else:
            current = candidate
    return "\n".join([*lines, current])
