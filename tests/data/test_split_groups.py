"""A manifest's optional `group` column: rows of one group always share a split (detection's
canvases built from the same source digits), and the sizes count groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traindev.config import SplitParams
from traindev.data.split import SplitError, assign_splits
from traindev.data.store import MANIFEST_FILE
from traindev.stages.check_split import domain_counts


def grouped_manifest(groups: int, per_group: int) -> pd.DataFrame:
    rows = groups * per_group
    group = np.arange(rows) // per_group
    domain = np.where(group % 3 == 0, "web", "phone")
    return pd.DataFrame(
        {
            "id": [f"row{i}" for i in range(rows)],
            "source": domain,
            "domain": domain,
            "label": (np.arange(rows) % 4).astype(str),  # classes vary inside a group
            "group": [f"g{g}" for g in group],
        }
    )


def test_rows_of_a_group_share_a_split_and_sizes_count_groups():
    manifest = grouped_manifest(groups=300, per_group=5)
    result = assign_splits(manifest, SplitParams(target_domain="phone", dev=50, test=40))
    frame = manifest.assign(split=result.split)
    assert (frame.groupby("group")["split"].nunique(dropna=False) == 1).all()
    groups = frame.drop_duplicates("group")["split"].value_counts().to_dict()
    assert groups["dev"] == 50 and groups["test"] == 40
    assert result.split.value_counts()["dev"] == 250  # rows follow their group
    assert result.sources["web"]["rows"] == 500
    assert result.sources["web"]["in_pool"] + result.sources["web"]["unused"] == 500


def test_a_group_across_domains_is_refused():
    manifest = grouped_manifest(groups=30, per_group=3)
    manifest.loc[0, "domain"] = "phone"  # group g0 is web otherwise
    with pytest.raises(SplitError, match="group 'g0' spans several domains"):
        assign_splits(manifest, SplitParams(target_domain="phone"))


def test_the_size_check_before_the_split_counts_groups(tmp_path):
    (tmp_path / "canvases").mkdir()
    (tmp_path / "plain").mkdir()
    grouped_manifest(groups=30, per_group=4).to_parquet(tmp_path / "canvases" / MANIFEST_FILE)
    grouped_manifest(groups=3, per_group=2).drop(columns="group").to_parquet(
        tmp_path / "plain" / MANIFEST_FILE
    )
    counts = domain_counts((tmp_path / "canvases", tmp_path / "plain"))
    assert counts == {"phone": 20 + 4, "web": 10 + 2}  # groups + rows
