"""Write a record atomically as sorted, indented JSON; read one back, validated.

Sorted keys and a fixed indent keep `dvc metrics diff` and git diffs readable and make the
bytes a function of the values alone. A file that does not validate raises ReportInputError
naming the file, the field path of the first bad field and what was wrong with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from traindev.atomic import atomic_file

M = TypeVar("M", bound=BaseModel)


class ReportInputError(ValueError):
    """An input file is missing or malformed; the message starts with the file's path."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


class MissingReportInputError(ReportInputError, FileNotFoundError):
    """An input file does not exist (usually: the stage that writes it has not run)."""


def record_json(model: BaseModel) -> str:
    """The file's text: pydantic's JSON (NaN as null), re-dumped with sorted keys. A record
    class with OMIT_NONE leaves out fields that are None (a metric not measured is absent)."""
    omit_none = getattr(model, "OMIT_NONE", False)
    payload = json.loads(model.model_dump_json(by_alias=True, exclude_none=omit_none))
    return json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_record(path: Path, model: BaseModel) -> None:
    """Write `model` to `path` atomically: a reader never sees half a file."""
    text = record_json(model)
    with atomic_file(Path(path)) as handle:
        handle.write(text)


def read_record(path: Path, model: type[M]) -> M:
    """Read and validate `path` as `model`; any problem names the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingReportInputError(path, "file not found") from None
    except OSError as error:
        raise ReportInputError(path, f"cannot read: {error}") from error
    try:
        return model.model_validate_json(text)
    except ValidationError as error:
        raise ReportInputError(path, describe(error)) from None


def describe(error: ValidationError) -> str:
    """The first error as `field.path[0].name: what was wrong (got <input>)`; "top level" when
    the file as a whole is wrong (not JSON, not an object)."""
    first = error.errors()[0]
    where = field_path(first["loc"]) or "top level"
    problem = first["msg"]
    if first["type"] == "json_invalid":
        return f"not valid JSON: {first.get('ctx', {}).get('error', problem)}"
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown field (a stale file? re-run the stage that writes it)"
    if first["type"] == "missing":
        return f"missing field {where!r}"
    return f"{where}: {problem} (got {first.get('input')!r})"


def field_path(loc: tuple[int | str, ...]) -> str:
    """('candidates', 0, 'name') -> 'candidates[0].name'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
