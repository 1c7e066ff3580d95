"""The box table: detection's targets beside the manifest, one row per object.

Boxes never go into the pixel store or the manifest: a store folder holds `boxes.parquet`
(`traindev.paths.BOXES_FILE`) beside manifest.parquet with the columns `BOX_COLUMNS`:
the manifest row's `id`, `object` (the index of the object within its image), `label` (a class
name of the store's class list) and the box as (x_min, y_min, x_max, y_max) float32 pixels of
the stored image, origin top-left, y down. An image with no object has no row. Pixel edges
are coordinates: a box covering columns 3..5 has x_min 3 and x_max 6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from traindev.atomic import atomic_file
from traindev.data.store import DataContractError

COORDINATES = ["x_min", "y_min", "x_max", "y_max"]
BOX_COLUMNS = ["id", "object", "label", *COORDINATES]
SHOWN = 20  # problems listed in an error message


class BoxTableError(DataContractError):
    """A box table that breaks the contract; the message names each bad row."""


def box_frame(
    ids: list[str], objects: list[int], labels: list[str], boxes: np.ndarray
) -> pd.DataFrame:
    """A box table from its columns, with the contract's dtypes; `boxes` is (K, 4) xyxy."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    frame = pd.DataFrame(
        {
            "id": pd.Series(ids, dtype=str),
            "object": pd.Series(objects, dtype=np.int64),
            "label": pd.Series(labels, dtype=str),
        }
    )
    for column, values in zip(COORDINATES, boxes.T, strict=True):
        frame[column] = values
    return frame


def empty_boxes() -> pd.DataFrame:
    return box_frame([], [], [], np.zeros((0, 4), dtype=np.float32))


def write_boxes(path: Path, boxes: pd.DataFrame) -> None:
    """Write the table atomically with the contract's columns and dtypes, in the given order."""
    _check_columns(boxes, str(path))
    frame = box_frame(
        boxes["id"].astype(str).tolist(),
        boxes["object"].astype(np.int64).tolist(),
        boxes["label"].astype(str).tolist(),
        boxes[COORDINATES].to_numpy(np.float32),
    )
    with atomic_file(Path(path), "wb") as handle:
        frame.to_parquet(handle, index=False)


def read_boxes(path: Path) -> pd.DataFrame:
    """Read a box table, checking its columns (the rows: `validate_boxes`)."""
    path = Path(path)
    if not path.is_file():
        raise BoxTableError(f"{path}: missing; run the stage that writes the box table")
    frame = pd.read_parquet(path)
    _check_columns(frame, str(path))
    return frame[BOX_COLUMNS]


def _check_columns(frame: pd.DataFrame, where: str) -> None:
    missing = [column for column in BOX_COLUMNS if column not in frame.columns]
    if missing:
        raise BoxTableError(
            f"{where}: the box table lacks columns {missing}; it needs {BOX_COLUMNS}"
        )


def box_problems(
    boxes: pd.DataFrame, ids: pd.Series, classes: list[str], image_size: tuple[int, int]
) -> list[str]:
    """Every broken rule, one message per bad row naming it (its position, id and object).

    `image_size` is (height, width) of the stored images; `ids` the manifest's ids.
    """
    height, width = image_size
    coords = boxes[COORDINATES].to_numpy(np.float64)
    x_min, y_min, x_max, y_max = coords.T
    checks: list[tuple[np.ndarray, str]] = [
        (~np.isfinite(coords).all(axis=1), "a coordinate is not a finite number"),
        ((x_max <= x_min) | (y_max <= y_min), "zero or negative size"),
        (
            (x_min < 0) | (y_min < 0) | (x_max > width) | (y_max > height),
            f"outside the {width}x{height} image",
        ),
        (~boxes["label"].isin(classes).to_numpy(), f"class not in the class list {classes}"),
        (~boxes["id"].isin(ids).to_numpy(), "id not in the manifest"),
        (boxes["object"].to_numpy() < 0, "negative object index"),
        (
            boxes.duplicated(["id", "object"], keep="first").to_numpy(),
            "repeats an (id, object) pair of an earlier row",
        ),
    ]
    problems = []
    for row in np.flatnonzero(np.any([bad for bad, _ in checks], axis=0)):
        reasons = "; ".join(reason for bad, reason in checks if bad[row])
        record = boxes.iloc[row]
        box = ", ".join(f"{value:g}" for value in coords[row])
        problems.append(
            f"row {row} (id {record['id']}, object {record['object']}, label "
            f"{record['label']!r}, box [{box}]): {reasons}"
        )
    return problems


def validate_boxes(
    boxes: pd.DataFrame,
    ids: pd.Series,
    classes: list[str],
    image_size: tuple[int, int],
    where: str = "box table",
) -> None:
    """Raise `BoxTableError` listing the bad rows (the first SHOWN and the count)."""
    _check_columns(boxes, where)
    problems = box_problems(boxes, ids, classes, image_size)
    if problems:
        lines = [f"  - {problem}" for problem in problems[:SHOWN]]
        if len(problems) > SHOWN:
            lines.append(f"  ... and {len(problems) - SHOWN} more")
        raise BoxTableError(f"{where}: {len(problems)} bad row(s):\n" + "\n".join(lines))


def targets_per_image(
    boxes: pd.DataFrame, ids: pd.Series, classes: list[str]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each id in `ids` (a manifest's order): its boxes (K, 4) float32 and class indices
    (K,) int64, by object index; an image without objects gets empty arrays."""
    index = {name: position for position, name in enumerate(classes)}
    ordered = boxes.sort_values(["id", "object"], kind="stable")
    coords = ordered[COORDINATES].to_numpy(np.float32)
    labels = ordered["label"].map(index).to_numpy(np.int64)
    starts = ordered.groupby("id", sort=False).indices  # id -> positions in `ordered`
    empty = (np.zeros((0, 4), dtype=np.float32), np.zeros(0, dtype=np.int64))
    return [
        (coords[starts[name]], labels[starts[name]]) if name in starts else empty
        for name in ids.astype(str)
    ]
