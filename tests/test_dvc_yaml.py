"""dvc.yaml's dependencies: what makes DVC re-run a stage."""

from __future__ import annotations

import yaml
from helpers.repository import PROJECT_ROOT

from traindev.config import TrainParams

# Train keys that cannot change the trained weights: the list of models to train, the progress
# bar, and where the resumable per-epoch state goes.
NOT_WEIGHTS = {"architectures", "progress", "checkpoint"}


def test_train_stage_depends_on_every_train_key_that_can_change_the_weights():
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    params = stages["train"]["do"]["params"]
    expected = {f"train.{key}" for key in TrainParams.model_fields if key not in NOT_WEIGHTS}
    assert set(params) == expected | {"models.${item}"}, (
        "a new train.* key must be listed under the train stage's params in dvc.yaml"
        " (or added to NOT_WEIGHTS here, if it cannot change the weights)"
    )
