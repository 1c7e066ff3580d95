"""Progress lines: one short stderr line per phase, with the seconds since the stage began."""

from __future__ import annotations

import re

from traindev.training.progress import PhaseLog


def test_phase_log_writes_one_flushed_line_per_phase_with_elapsed_seconds(capsys):
    log = PhaseLog("analyze lenet5")
    log("label issues (cleanlab)")
    log("writing the record")
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\[analyze lenet5 +\d+\.\ds\] label issues \(cleanlab\)", lines[0])


def test_a_disabled_phase_log_is_silent(capsys):
    PhaseLog("evaluate mlp", enabled=False)("predicting")
    assert capsys.readouterr().err == ""
