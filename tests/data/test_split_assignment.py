"""Stratified, stable, per-domain split assignment: the guarantees docs/splitting.md states."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from traindev.config import SplitParams
from traindev.data.split import SplitError, apportion, assign_splits, id_hash_words

TARGET = "phone"


def manifest_of(sizes: dict[str, dict[str, int]], start: int = 0) -> pd.DataFrame:
    """{domain: {class: count}} -> a manifest with distinct ids (vectorized: fast at 200k)."""
    parts = []
    for domain, classes in sizes.items():
        for label, count in classes.items():
            numbers = pd.Series(np.arange(start, start + count)).astype(str)
            parts.append(
                pd.DataFrame(
                    {"id": f"{domain}-{label}-" + numbers, "domain": domain, "label": label}
                )
            )
    frame = pd.concat(parts, ignore_index=True)
    return frame.assign(source=frame["domain"])


def params(**overrides) -> SplitParams:
    return SplitParams(**{"target_domain": TARGET, **overrides})


# Unbalanced classes, one of them tiny: what stratification is for.
UNBALANCED = {
    TARGET: {"a": 3, "b": 17, "c": 150, "d": 430},
    "web": {"a": 200, "b": 50, "c": 400, "d": 350},
    "fonts": {"a": 100, "b": 100, "c": 100, "d": 100},
}


def counts(manifest: pd.DataFrame, split: pd.Series, name: str) -> pd.Series:
    rows = manifest[split == name]
    return rows.groupby(["domain", "label"]).size()


def test_each_class_gets_its_share_of_dev_and_test_within_one_example():
    manifest = manifest_of(UNBALANCED)
    split = assign_splits(manifest, params(dev=0.1, test=0.2)).split
    target = manifest[manifest["domain"] == TARGET].groupby("label").size()
    for name, fraction in (("dev", 0.1), ("test", 0.2)):
        got = counts(manifest, split, name).loc[TARGET].reindex(target.index, fill_value=0)
        total = round(fraction * target.sum())
        assert got.sum() == total
        share = target * total / target.sum()
        assert ((got - share).abs() < 1).all(), (name, got.to_dict(), share.to_dict())
    # the 3-example class has a share of 0.3 in dev and 0.6 in test: it still gets its test one
    assert counts(manifest, split, "test").loc[(TARGET, "a")] == 1


def test_train_dev_has_the_pool_mix_of_every_domain_and_class_within_one_example():
    manifest = manifest_of(UNBALANCED)
    split = assign_splits(manifest, params(train_dev=0.15)).split
    pool = manifest[split.isin(["train", "train_dev"])].groupby(["domain", "label"]).size()
    got = counts(manifest, split, "train_dev").reindex(pool.index, fill_value=0)
    share = pool * got.sum() / pool.sum()
    assert got.sum() == round(0.15 * pool.sum())
    assert ((got - share).abs() < 1).all()


def test_stratified_additions_move_only_a_few_rows_and_never_between_dev_and_test():
    before = manifest_of(UNBALANCED)
    grown = pd.concat([before, manifest_of(UNBALANCED, start=10_000)], ignore_index=True)
    old = assign_splits(before, params()).split
    new = assign_splits(grown, params()).split.iloc[: len(before)]
    moved = old != new
    assert moved.mean() < 0.05  # doubling every stratum: only rows near a cut move
    assert not (old[moved].isin(["dev", "test"]) & new[moved].isin(["dev", "test"])).any()


def test_stable_counts_only_let_rows_leave_dev_and_test_for_the_pool():
    """stratify: false with counts: exact sizes; old rows never enter dev/test on additions."""
    before = manifest_of(UNBALANCED)
    grown = pd.concat([before, manifest_of(UNBALANCED, start=10_000)], ignore_index=True)
    chosen = params(stratify=False, dev=60, test=60, train_dev=100)
    old = assign_splits(before, chosen).split
    new_all = assign_splits(grown, chosen).split
    assert [(new_all == name).sum() for name in ("dev", "test", "train_dev")] == [60, 60, 100]
    new = new_all.iloc[: len(before)]
    for name in ("dev", "test"):
        entered = (new == name) & (old != name)
        assert not entered.any()
        left = (old == name) & (new != name)
        assert left.any() and set(new[left]) <= {"train", "train_dev"}


def test_a_rerun_gives_identical_assignments_and_a_new_seed_another():
    manifest = manifest_of(UNBALANCED)
    first = assign_splits(manifest, params(seed=3))
    again = assign_splits(manifest.copy(), params(seed=3))
    assert first.split.to_numpy().tolist() == again.split.to_numpy().tolist()
    assert first.sources == again.sources and first.resolved_fractions == again.resolved_fractions
    assert not first.split.equals(assign_splits(manifest, params(seed=4)).split)


def test_the_id_hash_is_pinned_so_splits_survive_library_upgrades():
    """BLAKE2b-256 keyed by the seed: these words must never change (they decide every split)."""
    words = id_hash_words(pd.Series(["0123456789abcdef", "é"]), seed=0)
    assert words.dtype == np.uint64 and words.shape == (2, 4)
    assert [f"{int(word):016x}" for word in words[0]] == PINNED_WORDS


# = hashlib.blake2b(b"0123456789abcdef", digest_size=32, key=b"0", person=b"traindev.split")
PINNED_WORDS = ["f37af6f6b8465d40", "b4604c81dc0f35ee", "b03e2485542394d7", "8ea602139f305736"]


def test_source_caps_and_fractions_are_respected_exactly():
    manifest = manifest_of(UNBALANCED)
    chosen = params(sources={"web": {"fraction": 0.5}, "fonts": {"cap": 150}})
    result = assign_splits(manifest, chosen)
    in_pool = manifest[result.split.isin(["train", "train_dev"])]
    by_domain = in_pool.groupby("domain").size()
    assert by_domain["web"] == 500 and by_domain["fonts"] == 150
    assert result.sources["web"] == {
        "rows": 1000, "in_pool": 500, "unused": 500, "fraction": 0.5, "cap": None,
    }  # fmt: skip
    assert result.sources["fonts"]["unused"] == 250
    # stratified inside the domain: web's classes keep their shares (200/50/400/350 halved)
    assert in_pool[in_pool["domain"] == "web"].groupby("label").size().tolist() == [
        100, 25, 200, 175,
    ]  # fmt: skip
    both = params(sources={"web": {"fraction": 0.5, "cap": 120}, "fonts": {"cap": 0}})
    kept = assign_splits(manifest, both).split.notna() & (manifest["domain"] != TARGET)
    assert manifest[kept].groupby("domain").size().to_dict() == {"web": 120}


def test_stable_source_caps_are_exact_and_fractions_approximate():
    manifest = manifest_of(UNBALANCED)
    chosen = params(stratify=False, sources={"web": {"fraction": 0.5}, "fonts": {"cap": 150}})
    result = assign_splits(manifest, chosen)
    assert result.sources["fonts"]["in_pool"] == 150
    assert result.sources["web"]["in_pool"] == pytest.approx(500, abs=60)


def test_bad_sources_are_named():
    manifest = manifest_of(UNBALANCED)
    with pytest.raises(SplitError, match=r"split.sources names domain\(s\) \['mobile'\].*fonts"):
        assign_splits(manifest, params(sources={"mobile": {"cap": 5}}))
    with pytest.raises(ValidationError, match=r"split.sources.phone is the target domain"):
        params(sources={TARGET: {"fraction": 0.5}})
    with pytest.raises(SplitError, match=r"training pool is empty"):
        assign_splits(
            manifest,
            params(target_to_train=0.0, sources={"web": {"cap": 0}, "fonts": {"fraction": 0.0}}),
        )


def test_apportion_gives_floor_or_ceiling_and_respects_capacity():
    weights = np.array([3, 17, 150, 430])
    quota = apportion(60, weights, weights, np.arange(4, dtype=np.uint64))
    exact = 60 * weights / weights.sum()
    assert quota.sum() == 60 and (np.abs(quota - exact) < 1).all()
    capped = apportion(10, np.array([10, 10]), np.array([2, 10]), np.arange(2, dtype=np.uint64))
    assert capped.tolist() == [2, 8]


def test_split_invariants_hold_on_200k_rows():
    """No id in two splits, dev/test only from the target, added rows move nothing (stable).
    Its speed is benchmarks/split_scale.py's figure, not a timed test."""
    sizes = {
        TARGET: {str(c): 2_000 for c in range(10)},
        "web": {str(c): 9_000 for c in range(10)},
        "fonts": {str(c): 9_000 for c in range(10)},
    }
    manifest = manifest_of(sizes)
    split = assign_splits(manifest, params(dev=0.05, test=0.05)).split
    assert len(manifest) == 200_000
    assert set(manifest.loc[split.isin(["dev", "test"]), "domain"]) == {TARGET}
    assert manifest.assign(split=split).groupby("id")["split"].nunique().max() == 1
    assert split.notna().all()

    before = manifest.iloc[::4].reset_index(drop=True)
    grown = pd.concat([before, manifest_of(sizes, start=50_000).iloc[::4]], ignore_index=True)
    chosen = params(dev=0.05, test=0.05, stratify=False)
    old = assign_splits(before, chosen).split
    assert old.equals(assign_splits(grown, chosen).split.iloc[: len(before)])
