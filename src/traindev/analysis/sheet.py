"""The error-analysis spreadsheet of the notes (course 3): one row per reviewed example.

A reviewer opens `<name>.csv` in a spreadsheet (or `<name>.html` to look at the images), ticks
the columns whose header starts with `tick:` and adds columns for categories they discover;
`traindev.analysis.review` reads the sheet back and counts the share of errors per category.

Column order: id, label, prediction, confidence, thumbnail, domain, the task's detail columns
(none for classification; detection's image, TIDE type and IoU), `tag.<key>` per tag key,
the frame's `meta.<name>` columns (extra manifest columns that ingest carried in, e.g.
`meta.path`, the file the image came from; empty where an example has none), the computed
`train.*` columns (`train.<flag>`: the property flag with the training images as reference, so
a property the whole target domain shares is marked; `train.neighbour<r>.id|domain|label`: the
r-th nearest training example in the model's penultimate features), then the tick
columns (computed flags pre-ticked from pixel measures, the user's categories,
`tick:incorrectly_labeled` pre-ticked where cleanlab suspects the label), label_issue_rank,
notes. A tick is "1"; not ticked is an empty cell. Rows are ordered by id so a re-generated
sheet diffs cleanly against the last one.

Writes go straight into `out_dir`: the analyze stage fills a staging directory from
`traindev.atomic.atomic_directory`, so a crash never publishes half a sheet. The CSV and HTML
files are additionally replaced atomically, which keeps standalone use safe too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traindev.analysis.properties import FLAG_NAMES
from traindev.analysis.thumbnails import THUMBNAIL_SIZE, thumbnail_path, write_thumbnails
from traindev.atomic import atomic_file
from traindev.data.sources.candidates import META_PREFIX
from traindev.reporting.templating import png_data_uri, render_html

TICK_PREFIX = "tick:"
TAG_PREFIX = "tag."
TRAIN_PREFIX = "train."  # computed against the training distribution (values, not ticks)
TICKED = "1"
INCORRECTLY_LABELED = "incorrectly_labeled"
LABEL_ISSUE_RANK = "label_issue_rank"
NOTES = "notes"
LEADING_COLUMNS = ("id", "label", "prediction", "confidence", "thumbnail", "domain")
FRAME_COLUMNS = ("id", "label", "prediction", "confidence", "domain", "tags")
RESERVED_NAMES = frozenset((*LEADING_COLUMNS, LABEL_ISSUE_RANK, NOTES, "split", "tags"))
_NEIGHBOUR_ID = re.compile(rf"{re.escape(TRAIN_PREFIX)}neighbour\d+\.id")
CSV_ENCODING = "utf-8-sig"  # the BOM makes Excel read non-ASCII category names correctly


@dataclass(frozen=True)
class SheetFiles:
    csv: Path
    html: Path
    thumbnails: tuple[str, ...]  # relative to the sheet's directory


def tick_column(category: str) -> str:
    """The header of a category's tick column in the CSV."""
    return f"{TICK_PREFIX}{category}"


def sheet_categories(
    user_categories: Sequence[str], flags: Sequence[str] = FLAG_NAMES
) -> list[str]:
    """Every tick category of a sheet, in column order: what `read_review` must find."""
    return [*flags, *user_categories, INCORRECTLY_LABELED]


def sample_by_id(ids: Sequence[str], size: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded sample of `size` ids that survives small changes.

    Each id gets a rank from a hash of (seed, id) and the lowest ranks win. Unlike a
    permutation, an id's rank does not depend on the other candidates: retraining that fixes
    or adds a few errors changes only those rows of the sheet, and a reviewer's ticks on the
    rest can be carried over.
    """
    if size < 0:
        raise ValueError(f"sample size must be >= 0, got {size} (analyze.errors.sample_size)")
    ranks = np.fromiter((_rank(seed, str(example_id)) for example_id in ids), np.uint64, len(ids))
    chosen = np.argsort(ranks, kind="stable")[:size]
    return np.sort(chosen).astype(np.int64)


def sample_rows(candidate_rows: np.ndarray, ids: Sequence[str], size: int, seed: int) -> np.ndarray:
    """Sorted store rows of a stable sample; `ids[i]` is the id of `candidate_rows[i]`."""
    candidate_rows = np.asarray(candidate_rows)
    if len(candidate_rows) != len(ids):
        raise ValueError(f"{len(ids)} ids for {len(candidate_rows)} candidate rows")
    return np.sort(candidate_rows[sample_by_id(ids, size, seed)])


def build_sheet(
    frame: pd.DataFrame,
    flags: pd.DataFrame,
    user_categories: Sequence[str],
    suggested_label_issues: Mapping[str, int],
    train_columns: Mapping[str, Sequence[str]] | None = None,
    detail_columns: Mapping[str, Sequence[Any]] | None = None,
) -> pd.DataFrame:
    """The sheet as a DataFrame whose columns are exactly the CSV's.

    `flags` holds one boolean column per computed flag, row i describing row i of `frame`;
    `suggested_label_issues` maps id to cleanlab rank (1 = most suspicious). The result keeps
    `frame`'s index labels (sorted by id), so with a frame indexed by store row,
    `pixels[sheet.index]` gives each row's image for `write_sheet`. `train_columns` are
    the `train.*` columns, row i describing row i of `frame`. `detail_columns` are a task's
    own value columns placed after `domain` (detection: the image, the TIDE type, the IoU),
    row i describing row i of `frame`; user categories may not reuse their names.
    """
    details = dict(detail_columns or {})
    _check_frame(frame, flags)
    _check_categories(list(flags.columns), user_categories, tuple(details))
    for name, cells in details.items():
        if name in RESERVED_NAMES or len(cells) != len(frame):
            raise ValueError(f"detail column {name!r} must be a new name with one cell per row")
    ids = frame["id"].astype(str)
    columns: dict[str, Any] = {
        "id": ids.to_numpy(),
        "label": frame["label"].astype(str).to_numpy(),
        "prediction": frame["prediction"].astype(str).to_numpy(),
        "confidence": frame["confidence"].astype(float).round(4).to_numpy(),
        "thumbnail": [thumbnail_path(example_id) for example_id in ids],
        "domain": frame["domain"].astype(str).to_numpy(),
        **{name: list(cells) for name, cells in details.items()},
        **tag_columns(frame["tags"].tolist()),
        **meta_columns(frame),
        **_train_columns(train_columns or {}, len(frame)),
    }
    for name in flags.columns:
        columns[tick_column(name)] = np.where(flags[name].to_numpy(), TICKED, "")
    for name in user_categories:
        columns[tick_column(name)] = ""
    suggested = ids.map(dict(suggested_label_issues))
    columns[tick_column(INCORRECTLY_LABELED)] = np.where(suggested.notna(), TICKED, "")
    columns[LABEL_ISSUE_RANK] = pd.array(suggested.to_numpy(), dtype="Int64")
    columns[NOTES] = ""
    sheet = pd.DataFrame(columns, index=frame.index)
    return sheet.sort_values("id", kind="stable")


def tag_columns(tags: Sequence[Any]) -> dict[str, list[Any]]:
    """`tag.<key>` columns from each example's tag list, sorted by key.

    "key=value" tags give a text column of values (empty where an example lacks the key;
    repeated keys are joined with "|"); a bare tag that never carries "=" gives a boolean
    column. A bare tag whose name elsewhere has values reads as the value "True".
    """
    parsed = [_parse_tags(row) for row in tags]
    keys = sorted({key for row in parsed for key in row})
    valued = {key for row in parsed for key, value in row.items() if value is not None}
    columns: dict[str, list[Any]] = {}
    for key in keys:
        if key in valued:
            columns[f"{TAG_PREFIX}{key}"] = [_tag_value(row, key) for row in parsed]
        else:
            columns[f"{TAG_PREFIX}{key}"] = [key in row for row in parsed]
    return columns


def meta_columns(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The frame's `meta.<name>` columns as text, in the frame's order, missing values empty.

    They keep their prefix so they never clash with tick or tag columns; a synthesized
    example has no manifest metadata, so its cells are empty.
    """
    return {
        column: [_meta_text(value) for value in frame[column]]
        for column in frame.columns
        if str(column).startswith(META_PREFIX)
    }


def write_sheet(
    sheet: pd.DataFrame,
    pixels_by_row: np.ndarray,
    pixel_max: int,
    out_dir: Path,
    name: str,
    title: str,
    note: str = "",
    neighbour_pixels: Mapping[str, np.ndarray] | None = None,
    thumbnail_size: int = THUMBNAIL_SIZE,
) -> SheetFiles:
    """Write `<name>.csv`, `<name>.html` and `thumbnails/<id>.png` into `out_dir`.

    `pixels_by_row[i]` is the image of the sheet's i-th row. The HTML embeds its thumbnails,
    so it is one self-contained file; `note` is a paragraph shown above the table (e.g. where
    to put the reviewed CSV). `neighbour_pixels` maps a `train.neighbour<r>.id` to its
    image: its thumbnail is written too and shown in that column of the HTML.
    `thumbnail_size` is the thumbnails' long side (detection passes images with boxes drawn).
    """
    if Path(name).name != name or name in ("", ".", ".."):
        raise ValueError(f"sheet name {name!r} must be a plain file name without directories")
    if len(pixels_by_row) != len(sheet):
        raise ValueError(f"{len(pixels_by_row)} images for a sheet of {len(sheet)} rows")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    thumbnails = write_thumbnails(
        pixels_by_row, sheet["id"].tolist(), pixel_max, out_dir, thumbnail_size
    )
    csv_path = out_dir / f"{name}.csv"
    with atomic_file(csv_path, "wb") as handle:
        handle.write(sheet.to_csv(index=False, lineterminator="\n").encode(CSV_ENCODING))
    images = [png_data_uri((out_dir / relative).read_bytes()) for relative in thumbnails]
    neighbours = dict(neighbour_pixels or {})
    neighbour_paths = write_thumbnails(
        np.asarray(list(neighbours.values())), list(neighbours), pixel_max, out_dir
    )
    neighbour_images = {
        example_id: png_data_uri((out_dir / relative).read_bytes())
        for example_id, relative in zip(neighbours, neighbour_paths, strict=True)
    }
    html_path = out_dir / f"{name}.html"
    page = render_sheet_html(sheet, images, title, f"{name}.csv", note, neighbour_images)
    with atomic_file(html_path, "wb") as handle:
        handle.write(page.encode())
    return SheetFiles(csv_path, html_path, tuple(dict.fromkeys(thumbnails + neighbour_paths)))


@dataclass(frozen=True)
class SheetColumn:
    name: str
    tick: bool  # a tick column (a category the reviewer marks)


@dataclass(frozen=True)
class SheetCell:
    text: str  # the cell's text; an image's alt text
    css: str = ""  # "tick" for a tick cell
    src: str = ""  # an image's data: URI


def render_sheet_html(
    sheet: pd.DataFrame,
    images: Sequence[str],
    title: str,
    csv_name: str,
    note: str = "",
    neighbour_images: Mapping[str, str] | None = None,
) -> str:
    """A read-only view of the sheet with images (templates/sheet.html; text is autoescaped).

    A neighbour's id cell shows its image (`neighbour_images`: id -> data URI) when known.
    """
    by_id = dict(neighbour_images or {})
    columns = [
        SheetColumn(str(column), str(column).startswith(TICK_PREFIX)) for column in sheet.columns
    ]
    rows = [
        [_sheet_cell(column, record, image, by_id) for column in columns]
        for record, image in zip(sheet.to_dict("records"), images, strict=True)
    ]
    return render_html(
        "sheet.html",
        title=title,
        csv_name=csv_name,
        note=note,
        tick_prefix=TICK_PREFIX,
        columns=columns,
        rows=rows,
    )


def _sheet_cell(
    column: SheetColumn, record: Mapping[str, Any], image: str, neighbours: Mapping[str, str]
) -> SheetCell:
    value = record[column.name]
    if column.name == "thumbnail":
        return SheetCell(str(record["id"]), src=image)
    if _NEIGHBOUR_ID.fullmatch(column.name) and value in neighbours:
        return SheetCell(str(value), src=neighbours[value])
    if column.tick:
        return SheetCell("✓" if value == TICKED else "", css="tick")
    return SheetCell(_cell_text(value))


def _train_columns(columns: Mapping[str, Sequence[str]], rows: int) -> dict[str, list[str]]:
    for name, cells in columns.items():
        if not name.startswith(TRAIN_PREFIX):
            raise ValueError(f"computed column {name!r} must start with {TRAIN_PREFIX!r}")
        if len(cells) != rows:
            raise ValueError(f"column {name!r} has {len(cells)} cells for {rows} rows")
    return {name: [str(cell) for cell in cells] for name, cells in columns.items()}


def _cell_text(value: Any) -> str:
    return "" if value is None or value is pd.NA or value != value else str(value)


def _meta_text(value: Any) -> str:
    """A manifest cell as the user typed it: 3.0 (an int column with gaps) reads "3"."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return _cell_text(value)


def _rank(seed: int, example_id: str) -> int:
    digest = hashlib.blake2b(f"{seed}\x00{example_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _parse_tags(tags: Any) -> dict[str, str | None]:
    """key -> value ("|"-joined when repeated), or None for a bare tag."""
    if tags is None or isinstance(tags, float):  # a missing list reads as None or NaN
        return {}
    parsed: dict[str, str | None] = {}
    for tag in [tags] if isinstance(tags, str) else list(tags):
        key, separator, value = str(tag).partition("=")
        key = key.strip() or str(tag)
        if not separator:
            parsed.setdefault(key, None)
        elif parsed.get(key) is None:
            parsed[key] = value.strip()
        else:
            parsed[key] = f"{parsed[key]}|{value.strip()}"
    return parsed


def _tag_value(row: Mapping[str, str | None], key: str) -> str:
    if key not in row:
        return ""
    value = row[key]
    return "True" if value is None else value


def _check_frame(frame: pd.DataFrame, flags: pd.DataFrame) -> None:
    missing = [column for column in FRAME_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"the sheet's frame lacks columns {missing}; it needs {FRAME_COLUMNS}")
    duplicated = frame["id"][frame["id"].duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(f"ids {duplicated[:5]} appear more than once in the sheet's frame")
    if len(flags) != len(frame):
        raise ValueError(f"{len(flags)} flag rows for {len(frame)} examples; pair them row by row")
    not_bool = [name for name in flags.columns if flags[name].dtype != bool]
    if not_bool:
        raise ValueError(f"flag columns {not_bool} must be boolean (see property_flags)")


def _check_categories(
    flags: Sequence[str], user_categories: Sequence[str], details: Sequence[str] = ()
) -> None:
    """User categories become tick columns beside the flags, so their names must be free."""
    seen: set[str] = set()
    for name in user_categories:
        where = f"analyze.errors.categories: {name!r}"
        if not name or name != name.strip():
            raise ValueError(f"{where} must be non-empty without surrounding spaces")
        if name in flags or name == INCORRECTLY_LABELED:
            raise ValueError(
                f"{where} is already a column of the sheet (pre-ticked from the images or from "
                "cleanlab); remove it from the list"
            )
        prefixes = (TAG_PREFIX, TICK_PREFIX, META_PREFIX, TRAIN_PREFIX)
        if name in RESERVED_NAMES or name in details or name.startswith(prefixes):
            raise ValueError(f"{where} clashes with the sheet's own columns; rename it")
        if name in seen:
            raise ValueError(f"{where} is listed twice")
        seen.add(name)
