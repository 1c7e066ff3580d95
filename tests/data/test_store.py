"""The data contract: manifest + pixels written together or not at all."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traindev.atomic import atomic_directory, atomic_file
from traindev.data.store import (
    METADATA_FILE,
    DataContractError,
    content_id,
    read_metadata,
    read_store,
    write_store,
)
from traindev.records import ReportInputError
from traindev.records.store import SplitMetadata


def tiny_store(n: int = 6):
    pixels = np.arange(n * 4 * 4, dtype=np.uint8).reshape(n, 4, 4, 1) % 17
    manifest = pd.DataFrame(
        {
            "id": [content_id(image) for image in pixels],
            "source": "digits",
            "domain": "handwritten",
            "label": [str(i % 2) for i in range(n)],
            "origin": "real",
            "tags": [["a=1"] for _ in range(n)],
        }
    )
    return manifest, pixels


def test_round_trip_memory_maps_the_pixels(tmp_path):
    manifest, pixels = tiny_store()
    write_store(tmp_path / "store", manifest, pixels, ["0", "1"], 16)
    store = read_store(tmp_path / "store")
    assert isinstance(store.pixels, np.memmap)
    np.testing.assert_array_equal(store.pixels, pixels)
    assert store.classes == ["0", "1"]
    assert store.image_shape == (1, 4, 4)
    assert store.label_indices().tolist() == [0, 1, 0, 1, 0, 1]
    assert list(store.manifest["tags"].iloc[0]) == ["a=1"]


def test_content_id_depends_on_pixels_and_shape_only():
    image = np.zeros((4, 4, 1), np.uint8)
    assert content_id(image) == content_id(image.copy())
    assert content_id(image) != content_id(np.zeros((2, 8, 1), np.uint8))
    other = image.copy()
    other[0, 0, 0] = 1
    assert content_id(image) != content_id(other)


def test_invalid_store_is_rejected_and_nothing_is_written(tmp_path):
    manifest, pixels = tiny_store()
    with pytest.raises(DataContractError, match=r"labels \['1'\] are not in the class list"):
        write_store(tmp_path / "store", manifest, pixels, ["0"], 16)
    with pytest.raises(DataContractError, match="manifest has 6 rows but pixels hold 5"):
        write_store(tmp_path / "store", manifest, pixels[:5], ["0", "1"], 16)
    assert not (tmp_path / "store").exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_part_names_the_file(tmp_path):
    manifest, pixels = tiny_store()
    write_store(tmp_path / "store", manifest, pixels, ["0", "1"], 16)
    (tmp_path / "store" / "pixels.npy").unlink()
    with pytest.raises(DataContractError, match=r"store/pixels.npy: missing; run the stage"):
        read_store(tmp_path / "store")


def test_a_failure_mid_write_keeps_the_previous_output(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        (staging / "complete.txt").write_text("v1")
    with pytest.raises(RuntimeError), atomic_directory(target) as staging:
        (staging / "partial.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["complete.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging debris


def test_atomic_file_leaves_no_partial_file(tmp_path):
    target = tmp_path / "metrics.json"
    with pytest.raises(ValueError), atomic_file(target) as handle:
        handle.write("{")
        raise ValueError("bad value")
    assert list(tmp_path.iterdir()) == []


def write_split_store(target: Path, totals: dict) -> None:
    """A tiny store as the split stage writes it, with `totals` as its stage fact."""
    manifest, pixels = tiny_store()
    write_store(
        target,
        manifest,
        pixels,
        ["0", "1"],
        16,
        SplitMetadata,
        target_domain="handwritten",
        totals=totals,
    )


def test_the_writing_stage_facts_read_back_typed(tmp_path):
    write_split_store(tmp_path / "store", {"train": 6})
    metadata = read_metadata(tmp_path / "store")
    assert isinstance(metadata, SplitMetadata)
    assert (metadata.count, metadata.shape, metadata.totals) == (6, (4, 4, 1), {"train": 6})


def test_a_wrong_fact_fails_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="totals"):
        write_split_store(tmp_path / "store", {"train": "six"})
    assert not (tmp_path / "store").exists()


def test_a_bad_dataset_json_names_the_file_and_the_field(tmp_path):
    manifest, pixels = tiny_store()
    write_store(tmp_path / "store", manifest, pixels, ["0", "1"], 16)
    path = tmp_path / "store" / METADATA_FILE
    path.write_text(path.read_text().replace('"pixel_max": 16', '"pixel_max": "sixteen"'))
    with pytest.raises(ReportInputError, match=rf"^{re.escape(str(path))}: plain\.pixel_max: "):
        read_store(tmp_path / "store")
