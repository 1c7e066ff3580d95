"""Reading params.yaml: complete, valid, and every augmentation transform buildable.

The schema (`traindev.config`) holds each key's default and description once; this module
holds the rules for the *file*. params.yaml must list every key the schema defines: DVC tracks
params by key, and a deleted line would otherwise fall back to the schema default without a
word. Every stage validates the whole file before doing any work, so a typo anywhere fails
fast with the key's dotted path and the nearest valid key, though a stage only *uses* its own
section (DVC tracks exactly that section for it).

The augmentation check lives here, not in the schema, so `traindev.config` never imports the
data layer (`traindev.data.augmentation` imports the schema); so does the task's check of what
it supports yet (`traindev.tasks.specs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from traindev.config import DEFAULT_PARAMS_PATH, Params, ParamsError, did_you_mean

REFERENCE_PAGE = "docs/reference/params.md"

# Keys that have a new name: an old params file gets the new one in its error.
RENAMED = {
    "train.tasks": "train.multilabel (`task` now names what the pipeline learns: "
    "docs/tasks.md; manifest columns task.<name> are now label.<name>)",
}


def load_params(path: Path | str = DEFAULT_PARAMS_PATH) -> Params:
    """Read and validate params.yaml, raising ParamsError with one line per problem."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found (run from the project root)")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level")
    return validate_params(raw, source=str(path))


def validate_params(raw: dict[str, Any], source: str = "params.yaml") -> Params:
    """The contents of a params file: every schema key listed, every value valid."""
    missing = [f"  {line}" for line in missing_keys(raw)]
    problems = list(missing)
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        problems = _format_errors(exc) + problems
    if problems:
        note = [f"  ({source} lists every key; {REFERENCE_PAGE} describes each)"] if missing else []
        raise ParamsError("\n".join([f"{source}: invalid params", *problems, *note]))
    if params.train.augment.transforms:  # albumentations is imported only when needed
        from traindev.data.augmentation import validate_augment

        try:
            validate_augment(params.train.augment)
        except ParamsError as exc:
            raise ParamsError(f"{source}: {exc}") from None
    from traindev.tasks.specs import check_supported

    try:  # a task refuses what it cannot run yet here, before any stage deletes outputs
        check_supported(params)
    except ValueError as exc:
        raise ParamsError(f"{source}: {exc}") from None
    return params


def missing_keys(raw: Any, schema: type[BaseModel] = Params, prefix: str = "") -> list[str]:
    """One line per schema key the raw mapping leaves out, with the YAML line that adds it.

    Only fixed keys count: the entries of a list (select.satisficing) or of a mapping the user
    names (split.sources) are data, not schema keys. A section that is not a mapping is left to
    validation, which names its type.
    """
    if not isinstance(raw, dict):
        return []
    lines = []
    for name, field in schema.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if name not in raw:
            default = field.get_default(call_default_factory=True)
            under = f" under `{prefix[:-1]}:`" if prefix else ""
            lines.append(f"{key}: missing; add `{_yaml_line(name, default)}`{under}")
        elif is_section:
            lines.extend(missing_keys(raw[name], annotation, f"{key}."))
    return lines


def _yaml_line(name: str, default: Any) -> str:
    """`name: value` as one flow-style YAML line (a whole section on one line too)."""
    value = default.model_dump(mode="json") if isinstance(default, BaseModel) else default
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(
        {name: _plain(value)}, default_flow_style=True, sort_keys=False, width=1_000_000
    )
    return text.strip()[1:-1]  # drop the outer braces of the one-key mapping


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively, so safe_dump writes [low, high] rather than a tag."""
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _format_errors(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc)
        if error["type"] == "extra_forbidden" and key in RENAMED:
            lines.append(f"  {key}: renamed {RENAMED[key]}")
        elif error["type"] == "extra_forbidden":
            valid = _valid_keys(error["loc"][:-1])
            lines.append(f"  {key}: unknown key{did_you_mean(loc[-1], valid)}")
        elif error["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        else:
            message = error["msg"].removeprefix("Value error, ")
            got = error.get("input")
            shown = "" if isinstance(got, dict) or len(repr(got)) > 80 else f" (got {got!r})"
            lines.append(f"  {key}: {message}{shown}" if key else f"  {message}")
    return lines


def _valid_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the schema at `loc`, walking the Params model tree."""
    model: Any = Params
    parts = iter(loc)
    for part in parts:
        field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
        annotation = getattr(field, "annotation", None)
        values = _mapping_values(annotation)
        if values is not None:  # a mapping the user keys (train.overrides.<arch>)
            annotation = values
            if next(parts, None) is None:
                return []
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _mapping_values(annotation: Any) -> Any:
    """V of a dict[str, V] annotation; None for anything else."""
    if get_origin(annotation) is dict:
        return get_args(annotation)[1]
    return None
