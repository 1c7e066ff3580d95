"""The distributed sampler: shards of a global batch add up to the single-process batch."""

from __future__ import annotations

import numpy as np
import pytest

from traindev.data.batches import GlobalBatchSampler, Shard


def test_the_shards_of_each_step_are_exactly_the_single_process_batch():
    single = list(GlobalBatchSampler(103, 10, shuffle=True, seed=7))
    shards = [list(GlobalBatchSampler(103, 10, True, 7, Shard(rank, 2))) for rank in range(2)]
    assert len(shards[0]) == len(shards[1]) == len(single)
    for step, batch in enumerate(single):
        union = np.concatenate([shards[0][step], shards[1][step]])
        assert sorted(union) == sorted(batch)
        assert not set(shards[0][step]) & set(shards[1][step])


def test_each_epoch_is_a_new_permutation_that_depends_only_on_seed_and_epoch():
    sampler = GlobalBatchSampler(50, 50, shuffle=True, seed=1)
    sampler.set_epoch(1)
    first = next(iter(sampler))
    sampler.set_epoch(2)
    second = next(iter(sampler))
    again = GlobalBatchSampler(50, 50, shuffle=True, seed=1)
    again.set_epoch(2)
    assert not np.array_equal(first, second)
    assert np.array_equal(second, next(iter(again)))
    assert sorted(first) == list(range(50))


def test_a_remainder_smaller_than_the_world_is_dropped_and_sizes_are_reported():
    sampler = GlobalBatchSampler(21, 10, shuffle=False, seed=0, shard=Shard(0, 2))
    assert sampler.global_sizes() == [10, 10]
    assert len(sampler) == 2


def test_a_global_batch_below_the_world_size_is_refused_naming_the_param():
    with pytest.raises(ValueError, match=r"train\.batch_size 1 is below the 2 processes"):
        GlobalBatchSampler(10, 1, shuffle=False, seed=0, shard=Shard(0, 2))


def test_streamed_and_in_memory_shards_hold_the_same_examples():
    import torch
    from training.test_trainer import separable_store

    from traindev.data.batches import StoreBatches, TensorBatches, split_rows

    store = separable_store(120)
    rows = split_rows(store, "train")
    positions = np.arange(len(rows))  # as targets: each batch says which examples it holds
    cpu = torch.device("cpu")
    for rank in range(2):
        shard = Shard(rank, 2)
        memory = TensorBatches.from_store(store, rows, 16, cpu, True, 3, positions, shard)
        streamed = StoreBatches(store, rows, 16, cpu, True, 3, targets=positions, shard=shard)
        memory.set_epoch(2)
        streamed.set_epoch(2)
        for (_, ya), (xb, yb) in zip(memory, streamed, strict=True):
            assert sorted(ya.tolist()) == sorted(yb.tolist())  # disk reads come sorted
            assert len(ya) in (8, 5)  # 90 rows: five batches of 16, then 10
            assert torch.equal(xb[0], memory.x[yb[0]])
