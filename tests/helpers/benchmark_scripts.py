"""The scripts in benchmarks/, loaded as modules so tests can call their functions."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from helpers.repository import PROJECT_ROOT


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module (the folder is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through it
    spec.loader.exec_module(module)
    return module
