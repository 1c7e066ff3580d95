"""A training process killed mid-run resumes from its last epoch and ends exactly where an
uninterrupted run ends (CPU, deterministic): the real CLI, a real SIGKILL."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest
import torch
from helpers.training_project import (
    environment,
    make_training_dir,
    run_training,
    train_command,
    trained_weights,
)

from traindev import paths
from traindev.config import ScheduleParams
from traindev.training.state import STATE_FILE

TRAIN = dict(
    epochs=4,
    batch_size=16,
    optimizer="momentum",
    lr=0.02,
    # params.yaml lists every key: the whole schedule section, step decay on top
    schedule=ScheduleParams(name="step", step_epochs=2, gamma=0.5).model_dump(),
)
EXAMPLES = 14000  # ~1-2 s per epoch on one CPU thread: room to kill it mid-run


def kill_after_first_checkpoint(root) -> subprocess.Popen:
    process = subprocess.Popen(
        train_command(),
        cwd=root,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    state = root / "checkpoints" / "deep_nn" / STATE_FILE
    deadline = time.monotonic() + 120
    while not state.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint written within 2 minutes"
        time.sleep(0.02)
    time.sleep(0.3)  # into the next epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    return process


@pytest.mark.e2e
def test_a_killed_training_run_resumes_to_the_same_weights(tmp_path):
    whole = make_training_dir(tmp_path / "whole", EXAMPLES, TRAIN)
    run_training(whole)

    killed = make_training_dir(tmp_path / "killed", EXAMPLES, TRAIN)
    process = kill_after_first_checkpoint(killed)
    assert process.returncode == -signal.SIGKILL
    assert not (killed / paths.model_dir("deep_nn")).exists()  # no half-written output
    state = torch.load(killed / "checkpoints" / "deep_nn" / STATE_FILE, weights_only=True)
    assert 1 <= state["epoch"] < TRAIN["epochs"]

    resumed = run_training(killed)
    assert f"resumed after epoch {state['epoch']}" in resumed.stdout
    for (name, a), (_, b) in zip(
        trained_weights(whole).items(), trained_weights(killed).items(), strict=True
    ):
        assert torch.equal(a, b), name
    summary = json.loads((killed / paths.model_dir("deep_nn") / "training.json").read_text())
    run = json.loads((killed / paths.training_run_file("deep_nn")).read_text())
    assert run["run_id"] == state["run_id"]  # the same MLflow run carries on
    assert run["resumed_from_epoch"] == state["epoch"]
    assert [r["epoch"] for r in summary["history"]] == [1, 2, 3, 4]
    assert not (killed / "checkpoints").exists()  # finished: the state and its folders go
