"""A grid of images with their boxes drawn, as PNG bytes the report embeds.

True boxes are solid, predicted ones (when given) dashed with their score; each box is
labelled with its class. Built on `matplotlib.figure.Figure` directly, as the report's other
figures (traindev.reporting.plots): no pyplot state, no GUI backend, the same bytes for the
same inputs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from traindev.data.store import read_store
from traindev.paths import BOXES_FILE
from traindev.tasks.detection.box_table import read_boxes, targets_per_image

TRUE_COLOUR = "#55a868"
PREDICTED_COLOUR = "#c44e52"
COLUMNS = 4
CELL_INCHES = 1.8

Boxes = tuple[np.ndarray, np.ndarray]  # (K, 4) xyxy pixels, (K,) class indices
Predictions = tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes, class indices, scores


def boxes_grid_png(
    images: np.ndarray,
    pixel_max: int,
    targets: Sequence[Boxes],
    classes: Sequence[str],
    titles: Sequence[str],
    title: str,
    predictions: Sequence[Predictions] | None = None,
) -> bytes:
    """`images` uint8 (k, H, W, C) as stored; grey ones drawn with ink dark on white as the
    report's thumbnails are."""
    count = len(images)
    rows = max(1, -(-count // COLUMNS))
    figure = Figure(figsize=(CELL_INCHES * COLUMNS, CELL_INCHES * rows + 0.4), layout="constrained")
    figure.suptitle(title, fontsize=10)
    grid = figure.subplots(rows, COLUMNS, squeeze=False)
    for index, axes in enumerate(grid.flat):
        axes.set_axis_off()
        if index >= count:
            continue
        image = images[index].astype(np.float32) / pixel_max
        if image.shape[-1] == 1:
            axes.imshow(image[..., 0], cmap="gray_r", vmin=0.0, vmax=1.0)
        else:
            axes.imshow(np.clip(image[..., :3], 0.0, 1.0))
        axes.set_title(titles[index], fontsize=6)
        boxes, labels = targets[index]
        for box, label in zip(boxes, labels, strict=True):
            _draw(axes, box, classes[int(label)], TRUE_COLOUR, "solid")
        if predictions is not None:
            boxes, labels, scores = predictions[index]
            for box, label, score in zip(boxes, labels, scores, strict=True):
                _draw(axes, box, f"{classes[int(label)]} {score:.2f}", PREDICTED_COLOUR, "dashed")
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _draw(axes, box: np.ndarray, text: str, colour: str, style: str) -> None:
    """Box edges are pixel edges; imshow puts pixel centres on integers, so edges at -0.5."""
    x_min, y_min, x_max, y_max = (float(value) - 0.5 for value in box)
    axes.add_patch(
        Rectangle(
            (x_min, y_min),
            x_max - x_min,
            y_max - y_min,
            fill=False,
            edgecolor=colour,
            linewidth=1.0,
            linestyle=style,
        )
    )
    axes.text(x_min, y_min, text, color=colour, fontsize=6, va="bottom")


def store_preview_png(source: Path, per_domain: int = 4) -> bytes:
    """The first `per_domain` images of each domain of a store with a box table, their tags
    as titles: what the canvases (or a user's annotations) look like, for the report."""
    store = read_store(source)
    boxes = read_boxes(Path(source) / BOXES_FILE)
    manifest = store.manifest.reset_index(drop=True)
    rows = manifest.groupby("domain", sort=True).head(per_domain).index.to_numpy()
    chosen = manifest.iloc[rows]
    targets = targets_per_image(boxes, chosen["id"], store.classes)
    titles = [
        _title(str(row.domain), [str(tag) for tag in row.tags]) for row in chosen.itertuples()
    ]
    return boxes_grid_png(
        np.asarray(store.pixels[rows]),
        store.pixel_max,
        targets,
        store.classes,
        titles,
        "Images and their boxes (first of each domain)",
    )


def _title(domain: str, tags: list[str]) -> str:
    """The domain, then the tags two to a line so they fit a cell."""
    lines = [" ".join(tags[start : start + 2]) for start in range(0, len(tags), 2)]
    return "\n".join([domain, *lines])
