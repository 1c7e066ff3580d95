"""Split invariants: the notes' option 2, deterministic, stable, stratified, leak-free."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from traindev.config import SplitParams
from traindev.data.split import SplitError, assign_splits, check_split_sizes, split_summary

CLASSES = [str(digit) for digit in range(10)]


def make_manifest(n_target: int, n_source: int, start: int = 0) -> pd.DataFrame:
    """Distinct ids; a balanced class cycle in each domain."""
    rows = []
    for domain, count in (("handwritten", n_target), ("fonts", n_source)):
        for i in range(start, start + count):
            rows.append(
                {
                    "id": f"{domain}-{i:07d}",
                    "source": domain,
                    "domain": domain,
                    "label": str(i % 10),
                }
            )
    return pd.DataFrame(rows)


def params(**overrides) -> SplitParams:
    return SplitParams(**{"target_domain": "handwritten", **overrides})


def test_dev_and_test_come_only_from_the_target_domain():
    manifest = make_manifest(2000, 6000)
    split = assign_splits(manifest, params()).split
    for name in ("dev", "test"):
        assert set(manifest.loc[split == name, "domain"]) == {"handwritten"}


def test_all_source_data_goes_to_train_or_train_dev():
    manifest = make_manifest(2000, 6000)
    split = assign_splits(manifest, params()).split
    assert set(split[manifest["domain"] == "fonts"]) == {"train", "train_dev"}


def test_train_dev_has_the_training_distribution():
    manifest = make_manifest(4000, 16000)
    split = assign_splits(manifest, params(train_dev=0.2)).split
    pool = manifest[split.isin(["train", "train_dev"])]
    train_dev = manifest[split == "train_dev"]
    pool_share = (pool["domain"] == "handwritten").mean()
    train_dev_share = (train_dev["domain"] == "handwritten").mean()
    assert train_dev_share == pytest.approx(pool_share, abs=0.02)
    assert len(train_dev) / len(pool) == pytest.approx(0.2, abs=0.02)


def test_sizes_as_fractions_and_as_counts():
    manifest = make_manifest(2000, 1000)
    by_fraction = assign_splits(manifest, params(dev=0.1, test=0.1)).split
    assert (by_fraction == "dev").sum() == pytest.approx(200, abs=40)
    by_count = assign_splits(manifest, params(dev=300, test=500)).split
    assert (by_count == "dev").sum() == pytest.approx(300, abs=50)
    assert (by_count == "test").sum() == pytest.approx(500, abs=60)


def test_target_to_train_keeps_the_rest_out():
    manifest = make_manifest(2000, 1000)
    result = assign_splits(manifest, params(dev=0.25, test=0.25, target_to_train=0.0))
    target_in_pool = result.split[manifest["domain"] == "handwritten"].isin(["train", "train_dev"])
    assert target_in_pool.sum() == 0
    assert result.unused_target == pytest.approx(1000, abs=80)
    assert result.split[manifest["domain"] == "handwritten"].isna().sum() == result.unused_target


def test_no_id_is_in_two_splits():
    manifest = make_manifest(2000, 6000)
    split = assign_splits(manifest, params()).split
    frame = manifest.assign(split=split).dropna(subset=["split"])
    assert frame.groupby("id")["split"].nunique().max() == 1


def test_same_seed_same_split_and_a_new_seed_a_different_one():
    manifest = make_manifest(1000, 1000)
    first = assign_splits(manifest, params(seed=7)).split
    again = assign_splits(manifest.sample(frac=1.0, random_state=3), params(seed=7)).split
    assert first.equals(again.sort_index())
    other = assign_splits(manifest, params(seed=8)).split
    assert not first.equals(other)


def test_adding_examples_never_moves_existing_ones():
    """With `stratify: false` and fractions; the stratified case: test_split_assignment.py."""
    before = make_manifest(1000, 2000)
    grown = pd.concat([before, make_manifest(500, 1000, start=10_000)], ignore_index=True)
    old = assign_splits(before, params(stratify=False)).split
    new = assign_splits(grown, params(stratify=False)).split.iloc[: len(before)]
    pd.testing.assert_series_equal(old, new)


def test_stratification_holds_in_every_evaluation_split():
    manifest = make_manifest(20_000, 20_000)
    result = assign_splits(manifest, params(dev=0.2, test=0.2))
    summary = split_summary(manifest, result, "handwritten", CLASSES)
    # 4,000 examples per split: the class share stays within 1.5 points of the pool's 10%.
    for name in ("dev", "test", "train_dev"):
        assert summary["class_share_drift"][name] < 0.015


def test_identical_pixels_in_two_splits_stay_only_in_the_earlier_one():
    manifest = make_manifest(2000, 2000)
    split = assign_splits(manifest, params()).split
    dev_ids = manifest.loc[split == "dev", "id"].iloc[:5].tolist()
    # Five font images that happen to be pixel-identical to dev images (same content hash).
    copies = pd.DataFrame({"id": dev_ids, "source": "fonts", "domain": "fonts", "label": "0"})
    leaky = pd.concat([manifest, copies], ignore_index=True)
    result = assign_splits(leaky, params())
    frame = leaky.assign(split=result.split).dropna(subset=["split"])
    assert frame.groupby("id")["split"].nunique().max() == 1
    assert len(result.dropped_duplicates) == 5
    assert set(result.dropped_duplicates["split"]) == {"dev"}
    assert set(result.dropped_duplicates["kept_in"]) <= {"train", "train_dev"}


def test_missing_target_domain_is_a_clear_error():
    with pytest.raises(
        SplitError,
        match=r"split.target_domain: domain 'mobile' has no examples.*"
        r"\['fonts', 'handwritten'\]",
    ):
        assign_splits(make_manifest(100, 100), params(target_domain="mobile"))


def test_dev_plus_test_larger_than_the_target_pool():
    with pytest.raises(SplitError, match=r"split.dev \+ split.test ask for 80 \+ 40 .* only 100"):
        assign_splits(make_manifest(100, 100), params(dev=80, test=40))


def test_fractional_counts_are_rejected():
    with pytest.raises(SplitError, match=r"split.dev: a count must be a whole number"):
        assign_splits(make_manifest(100, 100), params(dev=10.5))


def test_the_size_check_lists_every_problem_from_domain_counts_alone():
    """What `traindev check-split` runs before DVC deletes the last good split."""
    asked = params(target_domain="handwriten", dev=10.5, sources={"web": {"fraction": 0.5}})
    with pytest.raises(SplitError) as error:
        check_split_sizes(asked, {"handwritten": 100, "fonts": 100})
    message = str(error.value)
    assert message.startswith("3 problems with the split params:")
    assert "domain 'handwriten' has no examples (did you mean 'handwritten'?)" in message
    assert "split.sources names domain(s) ['web']" in message
    assert "split.dev: a count must be a whole number, got 10.5" in message


def test_the_size_check_refuses_a_train_dev_count_no_pool_can_hold():
    domains = {"handwritten": 100, "fonts": 100}
    check_split_sizes(params(train_dev=150), domains)  # 50 target + 100 fonts can hold it
    with pytest.raises(SplitError, match=r"split.train_dev: asks for 151 .* at most 150"):
        check_split_sizes(params(train_dev=151), domains)
    capped = params(train_dev=80, sources={"fonts": {"cap": 20}})
    with pytest.raises(SplitError, match=r"at most 70; lower split.train_dev"):
        check_split_sizes(capped, domains)


def test_summary_counts_by_split_domain_and_class():
    manifest = make_manifest(1000, 1000)
    result = assign_splits(manifest, params())
    summary = split_summary(manifest, result, "handwritten", CLASSES)
    assert sum(summary["totals"].values()) == len(manifest) - result.unused_target
    assert summary["totals"]["dev"] == sum(summary["counts"]["dev"]["handwritten"].values())
    assert "fonts" not in summary["counts"]["dev"]
    assert np.isclose(
        sum(sum(by_class.values()) for by_class in summary["counts"]["train"].values()),
        summary["totals"]["train"],
    )
