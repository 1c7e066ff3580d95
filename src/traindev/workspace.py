"""The user's workspace around DVC: experiments validated first, the last good outputs restored.

Two places where a user meets DVC directly and DVC's own behaviour costs them:

- `dvc exp run -S key=value` parses dvc.yaml with the new params before any stage runs, so a
  typo that breaks its interpolation (`train.architectures`, `models.<name>`) is reported by
  DVC with a hint that leads the wrong way. `traindev exp-run` applies the same `-S` overrides
  the way DVC does (DVC's own functions, on a copy), validates the result with traindev's
  messages, and only then runs `dvc exp run` with the arguments unchanged.
- DVC deletes a stage's outputs before running it, git-tracked outputs (`cache: false`)
  included, so a stage that fails leaves them deleted. `traindev restore` puts back the last
  good state in one command: those git-tracked outputs from git, then `dvc checkout` for the
  cached ones, both as dvc.lock records them. params.yaml, code and reviews are left alone.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from traindev.config import DEFAULT_PARAMS_PATH, ParamsError, did_you_mean
from traindev.params_file import load_params, validate_params

LOCK_FILE = Path("dvc.lock")
SET_PARAM_FLAGS = ("-S", "--set-param")
RESTORE_HINT = "`traindev restore` (or `make restore`) puts back the last good outputs"


class RestoreError(RuntimeError):
    """git or DVC could not put the last good outputs back; the message carries theirs."""


def set_param_overrides(args: Sequence[str]) -> list[str]:
    """The values of every `-S` / `--set-param` in a `dvc exp run` command line."""
    values: list[str] = []
    args = list(args)
    for index, arg in enumerate(args):
        if arg in SET_PARAM_FLAGS and index + 1 < len(args):
            values.append(args[index + 1])
        elif arg.startswith("--set-param="):
            values.append(arg.partition("=")[2])
        elif arg.startswith("-S") and len(arg) > 2:
            values.append(arg[2:])
    return values


def check_experiment(args: Sequence[str], params_path: Path = DEFAULT_PARAMS_PATH) -> None:
    """Validate params.yaml as `dvc exp run <args>` would leave it; raise ParamsError if not."""
    from dvc.utils.cli_parse import to_path_overrides

    overrides = to_path_overrides(set_param_overrides(args)).get(params_path.name, [])
    if not overrides:
        load_params(params_path)
        return
    shown = " ".join(f"-S {override}" for override in overrides)
    raw = _overridden(params_path, overrides)
    validate_params(raw, source=f"{params_path} with {shown}")


def _overridden(params_path: Path, overrides: list[str]) -> dict[str, Any]:
    """params.yaml with DVC's `-S` overrides applied by DVC's own code, on a copy."""
    from dvc.exceptions import InvalidArgumentError
    from dvc.utils.hydra import apply_overrides

    if not params_path.is_file():
        raise ParamsError(f"{params_path}: params file not found (run from the project root)")
    original = yaml.safe_load(params_path.read_text()) or {}
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / params_path.name
        shutil.copyfile(params_path, copy)
        for override in overrides:  # one at a time, so an error names its override
            try:
                apply_overrides(copy, [override])
            except InvalidArgumentError as exc:
                raise ParamsError(_override_error(override, original, exc)) from None
        return yaml.safe_load(copy.read_text()) or {}


def _override_error(override: str, original: dict[str, Any], exc: Exception) -> str:
    key = override.lstrip("+~").partition("=")[0]
    keys = list(_dotted_keys(original))
    if key not in keys:
        return (
            f"-S {override}: params.yaml has no key {key!r}{did_you_mean(key, keys)}; "
            "docs/reference/params.md lists every key"
        )
    cause = exc.__cause__ or exc
    return f"-S {override}: DVC cannot apply it ({cause}); write it as -S key=value"


def _dotted_keys(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for name, value in node.items():
            key = f"{prefix}{name}"
            yield key
            yield from _dotted_keys(value, f"{key}.")


def exp_run(args: Sequence[str], params_path: Path = DEFAULT_PARAMS_PATH) -> int:
    """`dvc exp run <args>` after traindev's params check; DVC's exit status."""
    check_experiment(args, params_path)
    return subprocess.call([sys.executable, "-m", "dvc", "exp", "run", *args])


def restore(root: Path = Path(".")) -> list[str]:
    """Put back the outputs dvc.lock records; the paths git restored, then DVC's summary."""
    lock_path = root / LOCK_FILE
    if not lock_path.is_file():
        raise RestoreError(f"{lock_path}: no dvc.lock, so no good state to restore; run dvc repro")
    lock = yaml.safe_load(lock_path.read_text()) or {}
    recorded = {
        out["path"]: out.get("md5")
        for stage in lock.get("stages", {}).values()
        for out in stage.get("outs", [])
    }
    changed = sorted(path for path, md5 in recorded.items() if _differs(root / path, md5))
    tracked = _git("ls-files", "--", *changed, cwd=root).split() if changed else []
    if tracked:
        _git("checkout", "--", *tracked, cwd=root)
    stages = list(lock.get("stages", {}))  # only these have outputs to restore
    checkout = subprocess.run(
        [sys.executable, "-m", "dvc", "checkout", *stages],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if checkout.returncode != 0:
        raise RestoreError(f"dvc checkout failed:\n{checkout.stderr.strip()}")
    restored = [f"{path} (from git)" for path in tracked]
    summary = [line for line in checkout.stdout.splitlines() if line.strip()]
    return restored + summary


def _differs(path: Path, md5: str | None) -> bool:
    """Missing, or a file whose content is not the one dvc.lock records."""
    if not path.exists():
        return True
    if not path.is_file() or md5 is None:
        return False
    return hashlib.md5(path.read_bytes()).hexdigest() != md5


def _git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RestoreError(f"git {' '.join(args[:1])} failed:\n{result.stderr.strip()}")
    return result.stdout
