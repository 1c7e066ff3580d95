"""What a stage process imports before it does any work: only what it uses.

Each DVC stage is a fresh `traindev <stage>` process, so every heavy library a stage module
imports at the top is paid on every run of that stage, used or not (torch about 2 s, MLflow
2.5 s, scikit-learn 1 s, cleanlab and albumentations about 1.5 s each on 2 cores). Each case
imports the CLI and one module in a fresh interpreter, as the stage process does, and names
the libraries that must not be loaded by then; the stage imports them itself where it uses
them (the default `offline_copies: 0` augment writes its empty store without torch, the
report draws from records and never needs torch, cleanlab loads only where label issues run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers.repository import PROJECT_ROOT

HEAVY = ("torch", "mlflow", "sklearn", "cleanlab", "albumentations", "kornia", "matplotlib")

# module the stage process imports -> heavy libraries it must not have loaded
LIGHT = {
    "traindev.stages.ingest": HEAVY,  # scikit-learn only for the sklearn_digits source, in run
    "traindev.stages.synthesize": HEAVY,  # matplotlib's fonts only for source: fonts, in run
    "traindev.stages.split": HEAVY,
    "traindev.stages.canvases": HEAVY,
    "traindev.tasks.detection.canvases": HEAVY,  # the empty store of task: classification
    "traindev.stages.augment": (*HEAVY, "pandas"),
    "traindev.data.offline_store": HEAVY,  # what augment runs with offline_copies: 0
    "traindev.stages.select": ("torch", "sklearn", "cleanlab", "albumentations", "kornia"),
    "traindev.stages.report": ("torch", "sklearn", "cleanlab", "albumentations", "kornia"),
    "traindev.analysis.label_issues": ("torch", "mlflow", "sklearn", "cleanlab"),
    "traindev.data.augmentation": ("mlflow", "sklearn", "cleanlab", "albumentations", "kornia"),
}

PROBE = """
import json, sys
import traindev.cli, {module}
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


def probe_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT_ROOT / "src"), env.get("PYTHONPATH")])
    )
    return env


def start_probe(module: str) -> subprocess.Popen[str]:
    """A fresh interpreter that imports the CLI and `module` and prints what is loaded."""
    command = [sys.executable, "-c", PROBE.format(module=module)]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=probe_env()
    )


def loaded_packages(probe: subprocess.Popen[str]) -> set[str]:
    """Top-level packages in the probe's sys.modules once its imports are done."""
    stdout, stderr = probe.communicate(timeout=120)
    assert probe.returncode == 0, stderr
    return set(json.loads(stdout.splitlines()[-1]))


# One probe per module, every one started at once: the cases cost one import's wall time, not
# the sum of them (most of an import is reading files, which overlaps on two cores too).
CONTROL = "traindev.data.store"  # imports pandas at the top: the probe must see it


@pytest.fixture(scope="module")
def probes() -> dict[str, subprocess.Popen[str]]:
    started = {module: start_probe(module) for module in [*sorted(LIGHT), CONTROL]}
    yield started
    for probe in started.values():
        if probe.poll() is None:
            probe.kill()
            probe.communicate()


@pytest.mark.parametrize("module", sorted(LIGHT))
def test_stage_module_leaves_heavy_libraries_unloaded(
    module: str, probes: dict[str, subprocess.Popen[str]]
) -> None:
    loaded = loaded_packages(probes[module]) & set(LIGHT[module])
    assert not loaded, (
        f"importing {module} loads {sorted(loaded)}: every `dvc repro` of the stage pays for "
        "them; import them inside the function that uses them"
    )


def test_the_probe_sees_what_a_module_imports(probes: dict[str, subprocess.Popen[str]]) -> None:
    """The check above can fail: a module that imports pandas at the top is seen doing so."""
    assert "pandas" in loaded_packages(probes[CONTROL])
