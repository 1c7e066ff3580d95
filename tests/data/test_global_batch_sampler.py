"""The distributed sampler: shards of a global batch add up to the single-process batch."""

from __future__ import annotations

import numpy as np
import pytest

from traindev.data.batches import GlobalBatchSampler, Shard


def test_the_shards_of_each_step_are_exactly_the_single_process_batch():
    # (a last batch under 2 examples per process is merged, which depends on the world size)
    single = list(GlobalBatchSampler(104, 10, shuffle=True, seed=7))
    shards = [list(GlobalBatchSampler(104, 10, True, 7, Shard(rank, 2))) for rank in range(2)]
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


def test_a_remainder_too_small_for_batch_norm_joins_the_batch_before_it():
    # 6,209 training digits in batches of 64 left one example: batch norm cannot train on it
    one = GlobalBatchSampler(21, 10, shuffle=True, seed=0)
    assert one.global_sizes() == [10, 11] and len(one) == 2
    assert sorted(np.concatenate(list(one))) == list(range(21))  # nothing dropped
    two = GlobalBatchSampler(23, 10, shuffle=False, seed=0, shard=Shard(1, 2))
    assert two.global_sizes() == [10, 13]  # 3 < 2 per process
    assert [len(part) for part in two] == [5, 6]
    assert GlobalBatchSampler(22, 10, shuffle=False, seed=0).global_sizes() == [10, 10, 2]
    assert GlobalBatchSampler(5, 1, shuffle=False, seed=0).global_sizes() == [1] * 5  # SGD


def test_a_global_batch_below_the_world_size_is_refused_naming_the_param():
    with pytest.raises(ValueError, match=r"train\.batch_size 1 is below the 2 processes"):
        GlobalBatchSampler(10, 1, shuffle=False, seed=0, shard=Shard(0, 2))


def test_streamed_and_in_memory_shards_hold_the_same_examples():
    import torch
    from helpers.image_stores import separable_store

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
