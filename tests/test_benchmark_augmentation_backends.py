"""benchmarks/augmentation_backends.py: its dry run writes the figures, and the kornia way it
measures as reproducible is reproducible per row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from benchmark_record import read_record
from helpers.benchmark_scripts import load_benchmark

from traindev.config import AugmentParams
from traindev.data.augmentation import resolve_specs

bench = load_benchmark("augmentation_backends")


def test_dry_run_writes_every_way_with_ratios_shares_and_load(tmp_path: Path) -> None:
    assert bench.main(["--dry-run", "--out", str(tmp_path)]) == 0
    record = read_record(tmp_path / "augmentation_backends.json")
    assert record.dry_run and len(record.details["load_average_end"]) == 3
    assert {f.baseline_name for f in record.figures if f.baseline} == {"traindev"}
    written = record.details
    assert written["kornia_equivalent"]["FancyPCA"] is None
    for workload in written["workloads"]:
        ways = workload["ways"]
        assert set(ways) == {
            "traindev/full",
            "traindev/common",
            "albumentations/full",
            "albumentations/common",
            "kornia_mapped/common",
            "kornia_rows/common",
            "kornia_own/common",
        }
        assert ways["traindev/common"]["ratio_to_traindev"]["median"] == 1.0
        for figures in ways.values():
            assert figures["images_per_s"]["median"] > 0
            assert 0 < figures["share_of_step"]["median"] < 1


def test_kornia_with_per_row_params_does_not_depend_on_the_batch() -> None:
    """The measured `kornia_mapped` way draws each row from its own key: splitting or
    reordering the batch leaves every image as it was, and the preset changes the images."""
    shape = (3, 16, 16)
    specs = [s for s in resolve_specs(AugmentParams(enabled=True), shape) if s.name != "FancyPCA"]
    augment = bench.KorniaMapped(specs, shape)
    x = torch.rand(10, *shape, generator=torch.Generator().manual_seed(0))
    rows = np.arange(10, dtype=np.int64) + 40
    whole = augment(x, rows, 1)
    split = torch.cat([augment(x[:3], rows[:3], 1), augment(x[3:], rows[3:], 1)])
    reordered = augment(x.flip(0), rows[::-1].copy(), 1).flip(0)
    torch.testing.assert_close(split, whole, rtol=0, atol=1e-6)
    torch.testing.assert_close(reordered, whole, rtol=0, atol=1e-6)
    assert (whole - x).abs().amax(dim=(1, 2, 3)).gt(1e-3).sum() >= 5
    assert not torch.equal(augment(x, rows, 2), whole)
