"""Reading a human-reviewed error sheet back, and the notes' table of error categories.

Per category the notes count the share of reviewed errors it explains; fixing every error of
that category can lower dev error by at most dev error x share (the category's "ceiling"),
which says where effort pays. With 10% dev error and 43 great cats among 100 reviewed errors,
great cats are worth up to 4.3 points; dogs at 5 of 100, only 0.5.

How columns are read:

- tick columns come back as booleans named after their category (`tick:blurry` -> `blurry`;
  a header without the prefix is accepted too). A cell is ticked for 1, x, yes, y, true, ✓
  and not ticked for 0, no, n, false or empty (any case; "1.0" / "0.0", which pandas writes
  after a round trip, count as 1 / 0). Anything else is an error naming file, line and column;
- a column the reviewer added is a tick category when its header starts with `tick:`, or when
  every one of its cells reads as a tick (so an all-empty "dog" column is a category with no
  dogs), and is then read as strictly as a built-in tick column. A column that mixes ticks
  with other text (`x`, `x`, `maybe`) is an error naming the file, line and column, exactly
  like `maybe` in a built-in tick column: it was meant as ticks. A column with no tick in it
  (`smudge`, `rotated`), or one declared with a `value:` header, holds values, like the `tag.*`
  columns. `notes` is the one free-text column: it is never read as categories;
- value columns (label, prediction, domain, `tag.*`, `meta.*`, the reviewer's value columns)
  add one "column = value" category per value when they have at most MAX_VALUE_LEVELS values
  among the counted errors and not the same value on all of them (ErrorTable.skipped_columns
  says which were left out and why); id, confidence, thumbnail, `meta.path` (one file per
  example), label_issue_rank, notes and the neighbours' ids (`train.neighbour<r>.id`) never
  make categories. `tag.*`, `meta.*` and the computed `train.*` columns hold values even when
  every cell looks like a tick (a `meta.flash` of 0 / 1 is data from the manifest, not the
  reviewer's category; `train.blurry = 1` counts errors blurrier than most training images,
  `train.neighbour1.domain = fonts` those whose nearest training image is a font).

A task's detail columns (detection's `image`, `type`, `iou`; `read_review(value_columns=...)`)
hold values even when a cell looks like a tick, and `category_table(never=...)` leaves the
ones that name a single example or a measurement out of the categories. With `units`, a
category's ceiling counts the units (detection: images) whose every reviewed error is in the
category, since an image is only right once all its errors are fixed; counts and shares stay
per row.

Line numbers are as a spreadsheet shows them: the header is line 1, the first example line 2.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from traindev.analysis.sheet import (
    CSV_ENCODING,
    INCORRECTLY_LABELED,
    LABEL_ISSUE_RANK,
    META_PREFIX,
    NOTES,
    TAG_PREFIX,
    TICK_PREFIX,
    TRAIN_PREFIX,
    tick_column,
)

REQUIRED_COLUMNS = ("id", "label", "prediction")
META_PATH = f"{META_PREFIX}path"  # ingest writes the source file of every image here
NEVER_CATEGORIES = frozenset(("id", "confidence", "thumbnail", META_PATH, LABEL_ISSUE_RANK, NOTES))
SHEET_VALUE_COLUMNS = frozenset(("id", "label", "prediction", "confidence", "thumbnail", "domain"))
MAX_VALUE_LEVELS = 20
VALUE_PREFIX = "value:"  # a reviewer's column of values, never read as ticks
TICKED_VALUES = ("1", "x", "yes", "y", "true", "✓", "✔")
UNTICKED_VALUES = ("", "0", "no", "n", "false")
_ACCEPTED = "1, x, yes, y, true, ✓ (ticked) or 0, no, n, false, an empty cell (not ticked)"
FIRST_LINE = 2  # the header is line 1 in a spreadsheet


class ReviewError(ValueError):
    """A reviewed sheet that cannot be read; the message names the file, line and column."""


@dataclass(frozen=True)
class CategoryRow:
    name: str  # "blurry", or "tag.font = cmr10" for a value category
    kind: Literal["tick", "value"]
    column: str
    value: str | None  # the value of a value category
    count: int  # reviewed errors in the category
    percent_of_errors: float  # 100 x count / reviewed errors (categories may overlap)
    ceiling: float  # dev error x share: the most that fixing the category can gain


@dataclass(frozen=True)
class ErrorTable:
    """The notes' error-analysis table, best ceiling first."""

    dev_error: float
    errors_total: int  # misclassified dev examples now
    reviewed: int  # reviewed rows that are still misclassified: the denominator
    rows: tuple[CategoryRow, ...]
    stale_ids: tuple[str, ...]  # reviewed, but the current model gets them right
    unknown_ids: tuple[str, ...]  # not in the dataset at all
    # Value columns that make no category, with why: too many values to count, or one value
    # on every reviewed error (a category that is all errors says nothing).
    skipped_columns: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dev_error": self.dev_error,
            "errors_total": self.errors_total,
            "reviewed": self.reviewed,
            "categories": [asdict(row) for row in self.rows],
            "stale_ids": list(self.stale_ids),
            "unknown_ids": list(self.unknown_ids),
            "skipped_columns": dict(self.skipped_columns),
        }

    def to_frame(self) -> pd.DataFrame:
        columns = list(CategoryRow.__dataclass_fields__)
        return pd.DataFrame([asdict(row) for row in self.rows], columns=columns)


def parse_tick(value: str) -> bool | None:
    """True / False for a tick cell, None when the text is not a tick at all."""
    text = value.strip().lower()
    if text in TICKED_VALUES:
        return True
    if text in UNTICKED_VALUES:
        return False
    try:
        number = float(text)
    except ValueError:
        return None
    return {1.0: True, 0.0: False}.get(number)


def read_review(
    path: Path,
    category_columns: Sequence[str],
    template: Path | None = None,
    value_columns: Collection[str] = (),
) -> pd.DataFrame:
    """The reviewed sheet: tick columns as booleans named by category, the rest as text.

    `category_columns` are the categories the generated sheet had (see
    `sheet.sheet_categories`); `template` is that generated sheet, named in the hint when the
    reviewed one is missing; `value_columns` are the task's detail columns, never ticks. The
    index holds each row's spreadsheet line number.
    """
    path = Path(path)
    if not path.is_file():
        source = f"the generated sheet ({template})" if template else "the generated sheet"
        raise ReviewError(
            f"{path}: no reviewed sheet. Copy {source} to {path}, tick its "
            f"'{TICK_PREFIX}' columns (add a column per new category you notice) and run again"
        )
    table = _read_table(path)
    _check_required(path, table)
    _check_ids(path, table)
    renames = _resolve_categories(path, table, category_columns)
    added = _extra_categories(path, table, renames, frozenset(value_columns))
    renames |= added | _value_columns(path, table)
    review = table.copy()
    for column in renames:
        if not column.startswith(VALUE_PREFIX):
            review[column] = _parse_ticks(path, table[column], column, column in added)
    return review.rename(columns=renames)


def category_table(
    review: pd.DataFrame,
    dev_error: float,
    misclassified_ids: Collection[str],
    known_ids: Collection[str],
    never: Collection[str] = (),
    units: Mapping[str, str] | None = None,
) -> ErrorTable:
    """Count the reviewed errors per category and rank the categories by ceiling.

    Only rows whose id the current model still misclassifies count. The others are reported,
    never dropped silently: stale ids (the model changed since the sheet was written) and
    unknown ids (not in the dataset: a typo, or a sheet from another dataset). `never` are
    further columns that make no category; `units` maps a row's id to the unit the error rate
    counts (detection: the image), which the ceilings then use (module docstring).
    """
    if not 0.0 <= dev_error <= 1.0:
        raise ValueError(f"dev_error must be a fraction in [0, 1], got {dev_error}")
    known, misclassified = set(known_ids), set(misclassified_ids)
    ids = review["id"].astype(str)
    # Set lookups per reviewed row: Series.isin(set) converts the whole (dataset-sized) set
    # first, about 0.3 s per call at 100,000 ids for a 100-row sheet.
    is_known = ids.map(known.__contains__).astype(bool)
    is_wrong = ids.map(misclassified.__contains__).astype(bool)
    unknown = ~is_known
    stale = is_known & ~is_wrong
    counted = review[~unknown & ~stale]
    unit = None if units is None else counted["id"].astype(str).map(dict(units))
    if unit is not None and unit.isna().any():
        raise ValueError(f"no unit for reviewed ids {sorted(counted['id'][unit.isna()])[:5]}")
    rows, skipped = (
        _category_rows(counted, dev_error, frozenset(never), unit) if len(counted) else ([], [])
    )
    return ErrorTable(
        dev_error=float(dev_error),
        errors_total=len(misclassified),
        reviewed=len(counted),
        rows=tuple(sorted(rows, key=lambda row: (-row.ceiling, row.kind != "tick", row.name))),
        stale_ids=tuple(sorted(ids[stale])),
        unknown_ids=tuple(sorted(ids[unknown])),
        skipped_columns=tuple(skipped),
    )


def correct_review_summary(
    review: pd.DataFrame, still_correct_ids: Collection[str] | None = None
) -> dict[str, Any]:
    """Label errors found among correctly classified examples.

    A wrong label the model "agrees with" hides a real error, and one it disagrees with
    turns a right answer into a counted error, so the notes review both directions.
    With `still_correct_ids`, rows the current model now gets wrong are reported as stale.
    """
    if INCORRECTLY_LABELED not in review.columns:
        raise ValueError(f"the review has no {INCORRECTLY_LABELED!r} column to count")
    ids = review["id"].astype(str)
    if still_correct_ids is None:
        stale = pd.Series(False, index=ids.index)
    else:
        stale = ~ids.isin(set(still_correct_ids))
    counted = review[~stale]
    flagged = counted["id"][counted[INCORRECTLY_LABELED].astype(bool)].astype(str)
    reviewed = len(counted)
    return {
        "reviewed": reviewed,
        "incorrectly_labeled": len(flagged),
        "percent_incorrectly_labeled": 100.0 * len(flagged) / reviewed if reviewed else None,
        "ids": sorted(flagged),
        "stale_ids": sorted(ids[stale]),
    }


def _category_rows(
    counted: pd.DataFrame, dev_error: float, never: frozenset[str], unit: pd.Series | None
) -> tuple[list[CategoryRow], list[tuple[str, str]]]:
    """Tick rows and "column = value" rows, plus (column, why) for value columns left out."""
    rows: list[CategoryRow] = []
    skipped: list[tuple[str, str]] = []
    for column in counted.columns:
        if counted[column].dtype == bool:
            share = _fixed_share(counted[column], unit)
            count = int(counted[column].sum())
            ceiling = dev_error * share
            rows.append(_category_row(column, "tick", column, None, count, counted, ceiling))
            continue
        if column in NEVER_CATEGORIES or column in never or _is_neighbour_id(column):
            continue
        text = counted[column].astype(str)
        levels, reason = _value_levels(text)
        if reason:
            skipped.append((column, reason))
        for value, count in levels.items():
            ceiling = dev_error * _fixed_share(text == value, unit)
            name = f"{column} = {value}"
            rows.append(_category_row(name, "value", column, value, count, counted, ceiling))
    return rows, skipped


def _fixed_share(inside: pd.Series, unit: pd.Series | None) -> float:
    """Share of the counted units that fixing the category's errors would make right."""
    if unit is None:
        return int(inside.sum()) / len(inside)
    fixed = inside.groupby(unit.to_numpy()).all()
    return int(fixed.sum()) / len(fixed)


def _is_neighbour_id(column: str) -> bool:
    return column.startswith(TRAIN_PREFIX) and column.endswith(".id")


def _value_levels(values: pd.Series) -> tuple[dict[str, int], str | None]:
    """Count per non-empty value, or none and why the column makes no useful category."""
    levels = values[values != ""].value_counts()
    if len(levels) > MAX_VALUE_LEVELS:
        return {}, f"more than {MAX_VALUE_LEVELS} values"
    if len(levels) == 1 and levels.iloc[0] == len(values):
        return {}, f"{levels.index[0]!r} on every reviewed error"
    return {str(value): int(count) for value, count in levels.items()}, None


def _category_row(
    name: str,
    kind: Literal["tick", "value"],
    column: str,
    value: str | None,
    count: int,
    counted: pd.DataFrame,
    ceiling: float,
) -> CategoryRow:
    share = count / len(counted)
    return CategoryRow(name, kind, column, value, count, 100.0 * share, ceiling)


def _read_table(path: Path) -> pd.DataFrame:
    """All cells as stripped text, indexed by spreadsheet line; blank rows dropped.

    The csv module rather than pandas: pandas renames duplicate headers ("x.1") and turns a
    row with one cell too many into an index, both silently.
    """
    try:
        text = path.read_text(encoding=CSV_ENCODING)
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ReviewError(f"{path}: not a readable CSV ({error}); save it as CSV UTF-8") from error
    if not records or not any(cell.strip() for cell in records[0]):
        raise ReviewError(f"{path}: the file is empty; it needs the generated sheet's header")
    header = [name.strip() for name in records[0]]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise ReviewError(f"{path}: line 1 names columns {repeated} more than once; rename them")
    numbered = enumerate(records[1:], start=FIRST_LINE)
    rows = [_fit_row(path, line, record, len(header)) for line, record in numbered]
    table = pd.DataFrame(
        rows,
        columns=header,
        index=pd.RangeIndex(FIRST_LINE, FIRST_LINE + len(rows), name="line"),
        dtype=object,
    )
    table = table[(table != "").any(axis=1)] if len(table) else table
    return _drop_unnamed(path, table)


def _delimiter(text: str) -> str:
    """Spreadsheets in many locales save CSV with ";" (or tabs); the header tells which."""
    header = text.split("\n", 1)[0]
    return max(",;\t", key=header.count)


def _fit_row(path: Path, line: int, record: list[str], width: int) -> list[str]:
    """Stripped cells, padded to the header; cells beyond it must be empty."""
    cells = [cell.strip() for cell in record]
    if any(cells[width:]):
        raise ReviewError(
            f"{path}, line {line}: {len(cells)} cells but the header names {width} columns; "
            "give the extra cells a header in line 1"
        )
    return cells[:width] + [""] * (width - len(cells))


def _drop_unnamed(path: Path, table: pd.DataFrame) -> pd.DataFrame:
    """Spreadsheets often save trailing empty columns; one with content needs a name."""
    unnamed = [position for position, name in enumerate(table.columns) if not name]
    for position in unnamed:
        filled = table.iloc[:, position] != ""
        if filled.any():
            raise ReviewError(
                f"{path}, line {filled.idxmax()}: column {position + 1} has values but no "
                "header; name it in line 1"
            )
    keep = [position for position in range(table.shape[1]) if position not in unnamed]
    return table.iloc[:, keep]


def _resolve_categories(
    path: Path, table: pd.DataFrame, categories: Sequence[str]
) -> dict[str, str]:
    """header -> category for the sheet's own tick columns, which must all be there."""
    renames = {}
    for category in categories:
        present = [name for name in (tick_column(category), category) if name in table.columns]
        if not present:
            raise ReviewError(
                f"{path}: column {tick_column(category)!r} is missing; restore it from the "
                "generated sheet (leave its cells empty if nothing applies)"
            )
        if len(present) > 1:
            raise ReviewError(f"{path}: both {present[0]!r} and {present[1]!r}; keep one")
        renames[present[0]] = category
    return renames


def _extra_categories(
    path: Path, table: pd.DataFrame, taken: dict[str, str], values: frozenset[str]
) -> dict[str, str]:
    """header -> category for columns the reviewer added (see the module docstring)."""
    renames: dict[str, str] = {}
    used = set(taken.values())
    for column in table.columns:
        if column in taken or column in SHEET_VALUE_COLUMNS or column in NEVER_CATEGORIES:
            continue
        if column in values:
            continue
        if column.startswith((TAG_PREFIX, META_PREFIX, TRAIN_PREFIX)) or column == "split":
            continue
        if column.startswith(TICK_PREFIX):
            category = column.removeprefix(TICK_PREFIX).strip()
        elif column.startswith(VALUE_PREFIX) or not _has_tick(table[column]):
            continue
        else:  # ticks, perhaps mixed with text that _parse_ticks names as an error
            category = column
        clashes = set(table.columns) - {column}
        if not category or category in clashes or category in used:
            raise ReviewError(
                f"{path}: column {column!r} names category {category!r}, which is empty or "
                "clashes with another column; rename it"
            )
        renames[column] = category
        used.add(category)
    return renames


def _value_columns(path: Path, table: pd.DataFrame) -> dict[str, str]:
    """`value:cause` -> `cause`, so its categories read "cause = smudge"."""
    renames = {}
    for column in table.columns:
        if not column.startswith(VALUE_PREFIX):
            continue
        name = column.removeprefix(VALUE_PREFIX).strip()
        if not name or name in table.columns or name in NEVER_CATEGORIES:
            raise ReviewError(
                f"{path}: column {column!r} names {name!r}, which is empty, reserved or "
                "clashes with another column; rename it"
            )
        renames[column] = name
    return renames


def _has_tick(cells: pd.Series) -> bool:
    """Whether any non-empty cell reads as a tick (x, 1, yes, no, 0, ...)."""
    return bool(cells.map(lambda cell: cell != "" and parse_tick(cell) is not None).any())


def _check_required(path: Path, table: pd.DataFrame) -> None:
    for column in REQUIRED_COLUMNS:
        if column not in table.columns:
            raise ReviewError(
                f"{path}: column {column!r} is missing; restore it from the generated sheet"
            )


def _check_ids(path: Path, table: pd.DataFrame) -> None:
    ids = table["id"]
    empty = ids[ids == ""]
    if len(empty):
        raise ReviewError(f"{path}, line {empty.index[0]}: the id is empty")
    repeated = ids[ids.duplicated(keep=False)]
    if len(repeated):
        example = repeated.iloc[0]
        lines = repeated.index[repeated == example].tolist()
        raise ReviewError(
            f"{path}: id {example!r} appears on lines {lines[0]} and {lines[1]}; "
            "keep one row per example"
        )


def _parse_ticks(path: Path, cells: pd.Series, column: str, added: bool = False) -> pd.Series:
    """Booleans, or an error at the first cell that is not a tick. `added`: a column the
    reviewer added without the `tick:` prefix, which may have been meant as values."""
    parsed = cells.map(parse_tick)
    bad = parsed.isna()
    if bad.any():
        line = bad.idxmax()
        hint = (
            ""
            if not added or column.startswith(TICK_PREFIX)
            else f"; or, if the column holds values rather than ticks, rename it "
            f"'{VALUE_PREFIX}{column}'"
        )
        raise ReviewError(
            f"{path}, line {line}, column {column!r}: {cells[line]!r} is not a tick; "
            f"use {_ACCEPTED}{hint}"
        )
    return parsed.astype(bool)
