"""The report's side-by-side grid (issue 19 item 5): a seeded sample of every training
domain and of dev, so a user sees the two distributions without opening folders."""

from __future__ import annotations

import numpy as np
from helpers.shifted_domains import SOURCE, TARGET, blurred_target_store

from traindev.analysis.domain_grid import domain_samples
from traindev.config import AnalyzeParams
from traindev.stages.analyze import _domain_grid


def test_the_grid_shows_each_training_domain_and_dev():
    store = blurred_target_store()
    samples = domain_samples(store.manifest, 5, seed=0)
    assert [(s.split, s.domain, s.examples) for s in samples] == [
        ("train", TARGET, 60),
        ("train", SOURCE, 60),
        ("dev", TARGET, 40),
    ]
    manifest = store.manifest
    for sample in samples:
        assert len(sample.rows) == 5
        assert (manifest["split"].to_numpy()[sample.rows] == sample.split).all()
        assert (manifest["domain"].to_numpy()[sample.rows] == sample.domain).all()
    again = domain_samples(store.manifest, 5, seed=0)
    assert all(np.array_equal(a.rows, b.rows) for a, b in zip(samples, again, strict=True))
    assert domain_samples(store.manifest, 0, seed=0) == []


def test_the_analyze_stage_writes_the_grids_thumbnails(tmp_path):
    store = blurred_target_store()
    settings = AnalyzeParams.model_validate({"errors": {"domain_grid_size": 3}})
    grid = _domain_grid(store, settings, tmp_path)
    assert [(entry["split"], entry["domain"]) for entry in grid] == [
        ("train", TARGET),
        ("train", SOURCE),
        ("dev", TARGET),
    ]
    for entry in grid:
        assert len(entry["thumbnails"]) == 3
        assert all((tmp_path / path).is_file() for path in entry["thumbnails"])
