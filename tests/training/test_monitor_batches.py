"""The learning-curve monitors score whole chunks per forward pass, with unchanged numbers.

Per-call overhead made 64-row eval passes about 15% of deep_nn's training; the monitors now
take as many rows per pass as the batched augmentation's chunk (`chunk_rows`), and an
example's eval-mode logits must not depend on which rows share its pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.repository import PROJECT_ROOT
from helpers.training_project import digit_like_split

from traindev.data.batch_augmentation import chunk_rows
from traindev.data.store import read_store, write_store
from traindev.models.registry import build_model
from traindev.params_file import load_params
from traindev.stages.train import SplitBatches
from traindev.training.distributed import DistributedContext

CPU = torch.device("cpu")
CLASSES = [str(c) for c in range(10)]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    manifest, pixels = digit_like_split(1400)
    root = tmp_path_factory.mktemp("monitor") / "split"
    write_store(root, manifest, pixels, CLASSES, 16)
    return read_store(root)


def test_monitors_take_a_chunk_per_pass_and_training_keeps_its_batches(store):
    params = load_params(PROJECT_ROOT / "params.yaml").train.model_copy(update={"batch_size": 64})
    batches = SplitBatches(store, params, CPU, DistributedContext())
    monitor = batches.monitor()
    size = chunk_rows(64, store.image_shape)
    assert size > 1000
    for name, source in monitor.items():
        assert source.num_batches == 1, name
        assert [len(y) for _, y in source] == [len(source)]
    assert batches.training().num_batches == -(-len(batches.train_rows) // 64)


@pytest.mark.parametrize("architecture", ["logistic_regression", "deep_nn", "lenet5"])
def test_eval_logits_do_not_depend_on_the_rows_sharing_the_pass(store, architecture):
    torch.manual_seed(0)
    model_params = load_params(PROJECT_ROOT / "params.yaml").model_params(architecture)
    model = build_model(architecture, model_params.model_dump(), store.image_shape, 10).eval()
    params = load_params(PROJECT_ROOT / "params.yaml").train
    x = torch.cat([x for x, _ in SplitBatches(store, params, CPU, DistributedContext())
                   .monitor()["train"]])  # fmt: skip
    with torch.no_grad():
        small = torch.cat([model(x[start : start + 64]) for start in range(0, len(x), 64)])
        whole = model(x)
    assert torch.equal(small, whole)
    assert np.array_equal(small.argmax(1).numpy(), whole.argmax(1).numpy())
