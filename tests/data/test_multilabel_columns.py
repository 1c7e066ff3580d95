"""Multi-label targets from `label.<name>` manifest columns: 1 / 0 / empty, bad cells named."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.image_stores import separable_store

from traindev.data.multilabel import multilabel_targets
from traindev.data.store import DataContractError, read_store, write_store


def stored(tmp_path, cells: list):
    store = separable_store(len(cells))
    manifest = store.manifest.assign(**{"label.car": cells})
    write_store(tmp_path / "split", manifest, store.pixels, store.classes, store.pixel_max)
    return read_store(tmp_path / "split")


def test_ones_zeros_and_empty_cells_become_1_0_and_nan(tmp_path):
    targets = multilabel_targets(stored(tmp_path, ["1", "0", "", None, "true", "no"]), ["car"])
    np.testing.assert_array_equal(targets[:, 0], [1.0, 0.0, np.nan, np.nan, 1.0, 0.0])


def test_a_missing_task_column_names_the_manifest_and_how_to_add_it(tmp_path):
    store = stored(tmp_path, ["1", "0"])
    with pytest.raises(
        DataContractError, match=r"manifest\.parquet: .*no column\(s\) \['label\.bus'\]"
    ):
        multilabel_targets(store, ["bus"])


def test_a_bad_cell_names_the_file_the_column_and_the_image(tmp_path):
    store = stored(tmp_path, ["1", "maybe", "0"])
    with pytest.raises(
        DataContractError, match=r"manifest\.parquet: column 'label\.car', image 'x1' has 'maybe'"
    ):
        multilabel_targets(store, ["car"])
