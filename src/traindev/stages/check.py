"""`traindev check`: params.yaml is complete and valid, before DVC touches any stage's outputs.

DVC deletes a stage's outputs before running it, so a params typo found by the stage itself
would cost the last good outputs. The `check` stage is dvc.yaml's first: ingest and synthesize
depend on its stamp, so every other stage runs after it, and a failing check leaves every
output in place. The CLI has already validated the whole file (`traindev.params_file`) by the
time `run` is called; the stamp records only that it passed, so its content never changes and
a passing check re-runs nothing downstream.
"""

from __future__ import annotations

from traindev import paths
from traindev.atomic import atomic_file
from traindev.config import Params

STAMP = "params.yaml passed `traindev check`\n"


def run(params: Params) -> str:
    del params  # validated by the CLI before this runs
    with atomic_file(paths.PARAMS_CHECK) as handle:
        handle.write(STAMP)
    return "params valid"
