"""Each default lives once: the schema's defaults are exactly the values params.yaml runs."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from typing import Any

import yaml
from helpers.repository import PROJECT_ROOT
from pydantic import BaseModel

import traindev.config
from traindev.config import Params
from traindev.params_file import missing_keys, validate_params


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> leaf value of a model dump."""
    if not isinstance(value, dict):
        return {prefix: value}
    leaves: dict[str, Any] = {}
    for key, item in value.items():
        leaves |= flatten(item, f"{prefix}.{key}" if prefix else key)
    return leaves


def test_params_yaml_lists_every_key_at_its_schema_default():
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    assert missing_keys(raw) == []
    project = flatten(validate_params(raw).model_dump(mode="json"))
    defaults = flatten(Params().model_dump(mode="json"))
    differing = {
        key: (project.get(key), defaults.get(key))
        for key in project.keys() | defaults.keys()
        if project.get(key) != defaults.get(key)
    }
    assert differing == {}, "params.yaml value, schema default: " + repr(differing)


def schema_fields(model: type[BaseModel], prefix: str = ""):
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from schema_fields(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field


def section_models(model: type[BaseModel]):
    yield model
    for field in model.model_fields.values():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from section_models(annotation)


def test_every_key_and_section_is_described_once_in_the_schema():
    undescribed = [key for key, field in schema_fields(Params) if not field.description]
    assert undescribed == []
    no_docstring = sorted({m.__name__ for m in section_models(Params) if not m.__doc__})
    assert no_docstring == []


def test_every_default_passes_its_own_validation():
    assert Params.model_validate(Params().model_dump()) == Params()


def test_config_imports_no_data_module():
    """config.py is the schema the data layer imports; the other way round is a circle."""
    tree = ast.parse(inspect.getsource(traindev.config))
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert [name for name in imported if name and name.startswith("traindev.data")] == []
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, traindev.config; "
            "print(sorted(m for m in sys.modules if m.startswith('traindev.data')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
