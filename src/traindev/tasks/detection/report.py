"""Detection's report sections as the report's view blocks (`traindev.reporting.render`).

The blocks render through the report's own templates (`partials/blocks.html` / `.md`), so the
HTML and the Markdown show the same numbers; the detector comparison has its own partial
(`partials/detectors.html` / `.md`). Per detector: the per-split metrics table (mAP@0.5, COCO
mAP@[.5:.95], precision and recall at the operating threshold, the per-image error), the
precision-recall curves, TIDE's error types with dAP (the notes' ceiling on mAP), and a gallery
of dev images with their boxes drawn. Across detectors: one comparison table, best dev mAP@0.5
marked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from traindev.records.detection import (
    DetectionSplitMetrics,
    DetectorSummary,
    GalleryImage,
    TideSummary,
)
from traindev.reporting.render import (
    BEST_MARK,
    MISSING,
    Block,
    FigureBlock,
    Gallery,
    Heading,
    Paragraph,
    RenderedFigure,
    Table,
    Thumbnail,
    Tile,
    number,
    percent,
    relative_href,
    slug,
    split_label,
)
from traindev.tasks.detection.plots import error_types_png, precision_recall_png

SPLIT_ORDER = ("train", "train_dev", "dev", "test")
TYPE_MEANINGS = {
    "classification": "right place, wrong class",
    "localization": "right class, box IoU in [0.1, 0.5]",
    "both": "wrong class and a poor box",
    "duplicate": "a second box on a found object",
    "background": "a box on no object",
    "missed": "an object no detection found",
    "false_positive": "every false positive ranked below every true one",
    "false_negative": "every object no detection matched removed",
}


def points(value: float, decimals: int = 1) -> str:
    """A fraction in [0, 1] as AP points (x 100), as COCO and TIDE print them."""
    return f"{100 * value:.{decimals}f}" if math.isfinite(value) else MISSING


def metrics_table(splits: Mapping[str, DetectionSplitMetrics]) -> Table:
    """One row per split in pipeline order: images, mAPs, precision, recall, image error."""
    header = (
        "Split", "Images", "mAP@0.5", "mAP@[.5:.95]", "Precision", "Recall", "Image error",
    )  # fmt: skip
    ordered = [s for s in SPLIT_ORDER if s in splits] + [s for s in splits if s not in SPLIT_ORDER]
    rows = tuple(
        (
            split_label(split),
            number(m.images),
            points(m.map_50),
            points(m.map_50_95),
            percent(m.precision),
            percent(m.recall),
            percent(m.image_error),
        )
        for split, m in ((s, splits[s]) for s in ordered)
    )
    return Table(header, rows, numeric=frozenset(range(1, len(header))), css_class="detection")


def precision_recall_figure(
    name: str, splits: Mapping[str, DetectionSplitMetrics]
) -> RenderedFigure:
    ordered = {s: splits[s] for s in SPLIT_ORDER if s in splits}
    png = precision_recall_png(ordered, f"{name}: precision-recall at IoU 0.5")
    return RenderedFigure(
        f"{slug(name)}_precision_recall.png", f"{name}: precision-recall curves per split", png
    )


def error_types_table(tide: TideSummary) -> Table:
    """TIDE's types (most dAP first), then its two broader oracles."""
    main = sorted(tide.counts, key=lambda kind: -_finite(tide.delta_ap.get(kind, math.nan)))
    rows = [
        (kind, str(tide.counts[kind]), points(tide.delta_ap.get(kind, math.nan), 2), meaning)
        for kind in main
        for meaning in [TYPE_MEANINGS.get(kind, "")]
    ]
    rows += [
        (kind, MISSING, points(value, 2), TYPE_MEANINGS.get(kind, ""))
        for kind, value in tide.delta_ap.items()
        if kind not in tide.counts
    ]
    return Table(
        ("Error type", "Count", "dAP (AP points)", "What it is"), tuple(rows), frozenset({1, 2})
    )


def error_types_figure(name: str, tide: TideSummary) -> RenderedFigure:
    png = error_types_png(tide, f"{name}: dev errors by TIDE type")
    return RenderedFigure(f"{slug(name)}_error_types.png", f"{name}: TIDE error types", png)


def detection_gallery(
    images: Sequence[GalleryImage], thumbnails: Mapping[str, bytes | None], base: str
) -> Gallery:
    """Tiles of drawn dev images; `thumbnails` maps a GalleryImage.thumbnail to its PNG
    bytes (None or absent: drawn as missing), `base` is the analysis directory's href."""
    tiles = []
    for image in images:
        errors = ", ".join(f"{kind} {count}" for kind, count in sorted(image.errors.items()))
        tiles.append(
            Tile(
                (
                    image.id[:12],
                    str(image.objects),
                    str(image.detections),
                    "wrong" if image.wrong else "right",
                    errors or "none",
                ),
                Thumbnail(
                    relative_href(base, image.thumbnail),
                    f"{image.id}: {image.objects} objects, {image.detections} detections",
                    thumbnails.get(image.thumbnail),
                ),
            )
        )
    return Gallery(("Image", "Objects", "Detections", "Image is", "Errors"), tuple(tiles))


def detection_blocks(
    name: str,
    splits: Mapping[str, DetectionSplitMetrics],
    tide: TideSummary | None,
    gallery: Sequence[GalleryImage],
    thumbnails: Mapping[str, bytes | None],
    base: str,
) -> tuple[list[Block], list[RenderedFigure]]:
    """One detector's sections in reading order, and the figures they show (for the
    Markdown's figures folder)."""
    curves = precision_recall_figure(name, splits)
    figures = [curves]
    blocks: list[Block] = [
        Heading("Detection metrics"),
        metrics_table(splits),
        Paragraph(
            "mAP from pycocotools' COCOeval; precision, recall and the image error at the "
            f"operating threshold ({_threshold(splits)}), matched at IoU 0.5. An image is wrong "
            "when it has a missed object or a false detection."
        ),
        FigureBlock(curves),
    ]
    if tide is not None:
        bars = error_types_figure(name, tide)
        figures.append(bars)
        blocks += [
            Heading("Error types (TIDE)"),
            Paragraph(
                f"Dev AP@0.5 {points(tide.ap_50)}. dAP is what an oracle fixing every error of a "
                "type would add to it: the ceiling of working on that type."
            ),
            error_types_table(tide),
            FigureBlock(bars),
        ]
    if gallery:
        blocks += [
            Heading("Dev detections"),
            Paragraph(
                "Green: true boxes with their class. Orange: detections at the operating "
                "threshold with class and score. Wrong images first."
            ),
            detection_gallery(gallery, thumbnails, base),
        ]
    return blocks, figures


def detector_comparison_table(detectors: Sequence[DetectorSummary]) -> Table:
    """One row per detector, the best dev mAP@0.5 marked."""
    header = (
        "Detector", "Family", "Parameters", "Latency (ms / image)", "Dev mAP@0.5",
        "Dev mAP@[.5:.95]", "Train-dev image error", "Dev image error",
    )  # fmt: skip
    finite = [d.dev_map_50 for d in detectors if math.isfinite(d.dev_map_50)]
    best = max(finite) if finite else None
    rows, emphasis = [], []
    for d in detectors:
        is_best = best is not None and d.dev_map_50 == best
        rows.append((
            d.name,
            d.family,
            number(d.parameters),
            MISSING if d.latency_ms is None else number(d.latency_ms, 2),
            points(d.dev_map_50) + (f" {BEST_MARK}" if is_best else ""),
            points(d.dev_map_50_95),
            percent(d.train_dev_image_error),
            percent(d.dev_image_error),
        ))  # fmt: skip
        emphasis.append("best" if is_best else "")
    return Table(
        header,
        tuple(rows),
        numeric=frozenset(range(2, len(header))),
        emphasis=tuple(emphasis),
        css_class="comparison",
    )


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def _threshold(splits: Mapping[str, DetectionSplitMetrics]) -> str:
    thresholds = sorted({m.score_threshold for m in splits.values()})
    return ", ".join(f"score >= {t:g}" for t in thresholds) or MISSING
