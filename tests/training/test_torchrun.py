"""The same training command under torchrun: 2 CPU processes (Gloo) match one process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from helpers.training_project import make_training_dir, run_training, train_command, trained_weights

from traindev import paths

TRAIN = dict(epochs=2, batch_size=32, optimizer="adam", lr=0.003, deterministic=True)


@pytest.mark.e2e
def test_two_process_data_parallel_training_matches_one_process(tmp_path):
    single = make_training_dir(tmp_path / "single", 2100, TRAIN)
    run_training(single)

    parallel = make_training_dir(tmp_path / "parallel", 2100, TRAIN)
    torchrun = str(Path(sys.executable).parent / "torchrun")
    launched = run_training(
        parallel, [torchrun, "--standalone", "--nproc-per-node", "2", "-m", *train_command()[2:]]
    )
    assert "x2: dev error" in launched.stdout  # rank 0 reports the world size

    for (name, a), (_, b) in zip(
        trained_weights(single).items(), trained_weights(parallel).items(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    one = json.loads((single / paths.model_dir("deep_nn") / "training.json").read_text())
    two = json.loads((parallel / paths.model_dir("deep_nn") / "training.json").read_text())
    assert two["world_size"] == 2
    for a, b in zip(one["history"], two["history"], strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        assert a["dev_error"] == pytest.approx(b["dev_error"], abs=1 / 300)  # at most 1 image
    # Throughput is a fact of the run, not of the inputs: it lives in the untracked run record.
    for directory in (single, parallel):
        run = json.loads((directory / paths.training_run_file("deep_nn")).read_text())
        assert run["examples_per_second"] > 0
    assert not (parallel / "checkpoints" / "deep_nn" / "last.pt").exists()
