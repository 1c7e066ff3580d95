"""A CSV or Parquet manifest: one row per image with path, label, domain and optional tags.

`path` is relative to `ingest.root` when set, else to the manifest's folder (absolute paths
are taken as they are). `domain` may be left out (every row then gets `ingest.domain`);
`tags` is a semicolon-separated string (or a list, in Parquet). Every other column is
carried into the store's manifest as `meta.<name>` (a `label.<name>` or `meta.<name>`
column keeps its name), so it can be used later, e.g. as a multi-label target or an
error-analysis column. Rows are numbered from 1, as a spreadsheet shows the data rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from traindev.data.sources.candidates import FRAME_COLUMNS, META_PREFIX, Candidates
from traindev.data.sources.problems import BadInputError, Problem

REQUIRED = ("path", "label")
KNOWN = ("path", "label", "domain", "tags")
KEPT_PREFIXES = ("label.", META_PREFIX)


def read_manifest(manifest: Path, root: Path | None, default_domain: str) -> Candidates:
    """The rows of a manifest as candidates; rows that cannot be used become problems."""
    manifest = Path(manifest)
    table = _read_table(manifest)
    missing = [column for column in REQUIRED if column not in table.columns]
    if missing:
        raise BadInputError(
            f"ingest.manifest: {manifest} lacks column(s) {missing}; it needs path and label "
            f"(and optionally domain, tags); it has {list(table.columns)}"
        )
    base = Path(root) if root else manifest.parent
    is_csv = manifest.suffix.lower() == ".csv"
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for number, record in enumerate(table.to_dict("records"), start=1):
        where = f"{manifest.name} row {number}" + (f" (line {number + 1})" if is_csv else "")
        path, label = _text(record.get("path")), _text(record.get("label"))
        domain = _text(record.get("domain")) if "domain" in table.columns else default_domain
        empty = [name for name, value in (("path", path), ("label", label)) if not value]
        if "domain" in table.columns and not domain:
            empty.append("domain")
        if empty:
            problems.append(Problem(where, path, f"empty {', '.join(empty)}"))
            continue
        file = Path(path) if Path(path).is_absolute() else base / path
        if not file.is_file():
            problems.append(Problem(where, str(file), f"file not found: {file}"))
            continue
        rows.append(
            {
                "file": str(file),
                "where": where,
                "domain": domain,
                "label": label,
                "tags": _tags(record.get("tags")),
                f"{META_PREFIX}path": path,
                **{_extra_name(c): record[c] for c in table.columns if c not in KNOWN},
            }
        )
    extras = [_extra_name(column) for column in table.columns if column not in KNOWN]
    columns = [*FRAME_COLUMNS, *dict.fromkeys([f"{META_PREFIX}path", *extras])]
    frame = pd.DataFrame(rows, columns=columns)
    return Candidates(frame, f"manifest:{manifest.name}", str(manifest), problems)


def _read_table(manifest: Path) -> pd.DataFrame:
    if not manifest.is_file():
        raise BadInputError(f"ingest.manifest: {manifest} not found")
    suffix = manifest.suffix.lower()
    text_columns = {name: str for name in KNOWN}
    try:
        if suffix == ".csv":
            return pd.read_csv(manifest, dtype=text_columns, keep_default_na=False, na_values=[""])
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(manifest)
    except (ValueError, OSError) as exc:
        raise BadInputError(f"ingest.manifest: {manifest} cannot be read: {exc}") from None
    raise BadInputError(
        f"ingest.manifest: {manifest} must be a .csv or .parquet file (got {suffix or 'none'})"
    )


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a numeric label column read from Parquet: 3.0 -> "3"
    return str(value).strip()


def _tags(value: Any) -> list[str]:
    if value is None or isinstance(value, float) or value is pd.NA:
        return []
    items = value.split(";") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def _extra_name(column: str) -> str:
    return column if column.startswith(KEPT_PREFIXES) else f"{META_PREFIX}{column}"
