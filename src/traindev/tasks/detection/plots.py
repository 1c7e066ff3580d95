"""Detection's report figures as PNG bytes, drawn like the rest of the report's
(`traindev.reporting.plots`: a bare matplotlib Figure, no pyplot, no version in the PNG).

- precision-recall curves: COCOeval's interpolated precision at IoU 0.5 on its 101 recall
  points, averaged over classes, one curve per split, each labelled with its mAP@0.5 (the area
  under the curve, as COCO computes it);
- error types: TIDE's count of each type beside its dAP, the AP@0.5 points an oracle fixing
  every error of that type gives back (the notes' ceiling), the two broader oracles apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from matplotlib.figure import Figure

from traindev.records.detection import DetectionSplitMetrics, TideSummary
from traindev.reporting.plots import SERIES_COLORS, literal, percent_points, png_bytes

SPLIT_NAMES = {"train": "train", "train_dev": "train-dev", "dev": "dev", "test": "test"}


def precision_recall_png(splits: Mapping[str, DetectionSplitMetrics], title: str) -> bytes:
    """One precision-recall curve per split (in the order given) on [0, 1] x [0, 1]."""
    figure = Figure(figsize=(5.0, 3.8), layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(literal(title), fontsize=10)
    drawn = 0
    for index, (split, metrics) in enumerate(splits.items()):
        curve = metrics.precision_curve
        if not curve or all(math.isnan(value) for value in curve):
            continue  # no true object in the split: no curve
        label = f"{SPLIT_NAMES.get(split, split)} (mAP@0.5 {100 * metrics.map_50:.1f})"
        axes.plot(
            metrics.recall_grid,
            curve,
            label=literal(label),
            color=SERIES_COLORS[index % len(SERIES_COLORS)],
            drawstyle="steps-post",
        )
        drawn += 1
    if not drawn:
        axes.text(0.5, 0.5, "no split with a true object", ha="center", va="center")
        axes.set_axis_off()
        return png_bytes(figure)
    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(0.0, 1.02)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision (interpolated, IoU 0.5)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower left")
    return png_bytes(figure)


def error_types_png(tide: TideSummary, title: str) -> bytes:
    """Left: errors per TIDE type. Right: each type's dAP in AP points, broader oracles last."""
    figure = Figure(figsize=(9.0, 3.4), layout="constrained")
    count_axes, delta_axes = figure.subplots(1, 2)
    figure.suptitle(literal(title), fontsize=10)
    kinds = list(tide.counts)
    bars = count_axes.bar(kinds, [tide.counts[k] for k in kinds], color=SERIES_COLORS[0])
    count_axes.bar_label(bars, fontsize=7, padding=1)
    count_axes.set_title("errors", fontsize=9)
    count_axes.set_ylabel("count (dev)")
    oracles = list(tide.delta_ap)
    colours = [SERIES_COLORS[1] if k in tide.counts else SERIES_COLORS[2] for k in oracles]
    bars = delta_axes.bar(oracles, percent_points(list(tide.delta_ap.values())), color=colours)
    delta_axes.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
    delta_axes.set_title("dAP: AP@0.5 gained by fixing the type", fontsize=9)
    delta_axes.set_ylabel("AP points")
    for axes in (count_axes, delta_axes):
        axes.tick_params(axis="x", labelrotation=35, labelsize=8)
        axes.margins(y=0.15)
        axes.grid(axis="y", alpha=0.3)
    return png_bytes(figure)
