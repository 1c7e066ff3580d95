"""Locating the data mismatch: train-dev vs dev classifier, and the features it reads."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from traindev.analysis.features import penultimate_features
from traindev.analysis.mismatch import (
    DomainMismatch,
    MismatchResult,
    auc_by_ranks,
    mismatch_by_domain,
    mismatch_check,
    mismatch_summary,
    separability,
)
from traindev.data.batches import to_model_input
from traindev.data.store import ImageStore
from traindev.models.params import ARCHITECTURE_PARAMS
from traindev.models.registry import build_model
from traindev.training.transfer import output_layer

CPU = torch.device("cpu")
DEV_ROW_OFFSET = 1000  # dev store rows differ from positions, as after the split stage
SCORED = (np.arange(3), np.zeros(3))  # rows and P(dev) of one side, for results built by hand


def gaussian(count: int, shift: float, seed: int, dims: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).normal(loc=shift, size=(count, dims))


def test_same_distribution_gives_an_auc_whose_ci_contains_chance():
    train_dev, dev = gaussian(300, 0.0, seed=0), gaussian(300, 0.0, seed=1)
    result = mismatch_check(train_dev, dev, np.arange(300) + DEV_ROW_OFFSET, 5, 1000, seed=0)
    assert result.ci_low <= 0.5 <= result.ci_high
    assert result.ci_low <= result.auc <= result.ci_high
    assert not result.distinguishable
    assert result.interpretation.endswith("train-dev and dev look alike to the model")


def test_shifted_dev_is_told_apart_and_its_most_shifted_rows_come_first():
    train_dev = gaussian(300, 0.0, seed=2)
    dev = gaussian(300, 0.8, seed=3)
    planted = np.array([17, 88, 150, 201, 299])
    dev[planted] += 8.0
    result = mismatch_check(train_dev, dev, np.arange(300) + DEV_ROW_OFFSET, 5, 1000, seed=0)
    assert result.auc > 0.9 and result.distinguishable
    assert "easy to tell apart from the training distribution" in result.interpretation
    assert sorted(result.most_unlike(5).tolist()) == (planted + DEV_ROW_OFFSET).tolist()
    scores = result.most_unlike_scores(6)
    assert np.all(np.diff(scores) <= 0) and scores[4] > 0.99


def test_most_unlike_breaks_score_ties_by_store_row():
    result = MismatchResult(
        auc=0.8, ci_low=0.7, ci_high=0.9, train_dev_examples=4, dev_examples=4, folds=2,
        dev_rows=np.array([40, 10, 30, 20]), dev_scores=np.array([0.9, 0.9, 0.2, 0.9]),
        train_dev_rows=np.array([7, 5, 6, 8]), train_dev_scores=np.array([0.1, 0.1, 0.6, 0.6]),
    )  # fmt: skip
    assert result.most_unlike(3).tolist() == [10, 20, 40]
    assert result.most_unlike(10).tolist() == [10, 20, 40, 30]
    assert result.most_unlike(0).tolist() == []
    rows, scores = result.most_dev_like(3)
    assert rows.tolist() == [6, 8, 5] and scores.tolist() == [0.6, 0.6, 0.1]
    rows, scores = result.most_train_dev_like(3)
    assert rows.tolist() == [5, 7, 6] and scores.tolist() == [0.1, 0.1, 0.6]


@pytest.mark.parametrize(
    ("auc", "ci", "phrase"),
    [
        (0.55, (0.48, 0.62), "look alike to the model"),
        (0.45, (0.40, 0.49), "look alike to the model"),
        (0.62, (0.55, 0.69), "slightly but measurably different"),
        (0.80, (0.75, 0.85), "clearly different"),
        (0.93, (0.91, 0.95), "easy to tell apart from the training distribution"),
        (0.70, (0.66, 0.74), "slightly but measurably different to clearly different"),
        (0.90, (0.85, 0.95), "(borderline: the interval spans 0.9)"),
    ],
)
def test_interpretation_bands(auc, ci, phrase):
    result = MismatchResult(auc, *ci, 10, 10, 2, *SCORED, *SCORED)
    assert result.interpretation.startswith(f"AUC {auc:.2f} (95% CI {ci[0]:.2f}-{ci[1]:.2f}): ")
    assert phrase in result.interpretation


def test_wording_reads_the_interval_so_it_does_not_flip_at_a_cut():
    # The flip: 0.69 read "slightly different - look for a small subgroup" and 0.71
    # "clearly different". Point estimates either side of 0.7, same spread: same words.
    below = MismatchResult(0.69, 0.65, 0.73, 10, 10, 2, *SCORED, *SCORED)
    above = MismatchResult(0.71, 0.67, 0.75, 10, 10, 2, *SCORED, *SCORED)
    words = [result.interpretation.split(": ", 1)[1] for result in (below, above)]
    assert words[0] == words[1] and "borderline" in words[0]
    assert separability(0.72, 0.88) == "clearly different"
    assert separability(0.40, 0.95) == "look alike to the model"


def test_each_side_is_subsampled_with_a_seed():
    train_dev, dev = gaussian(400, 0.0, seed=4), gaussian(250, 0.5, seed=5)
    rows = np.arange(250) + DEV_ROW_OFFSET
    first = mismatch_check(train_dev, dev, rows, 3, 100, seed=7)
    again = mismatch_check(train_dev, dev, rows, 3, 100, seed=7)
    assert (first.train_dev_examples, first.dev_examples) == (100, 100)
    assert set(first.dev_rows.tolist()) <= set(rows.tolist()) and len(first.dev_rows) == 100
    assert first.dev_rows.tolist() == again.dev_rows.tolist()
    assert (first.auc, first.ci_low, first.ci_high) == (again.auc, again.ci_low, again.ci_high)


def test_as_dict_is_json_with_only_the_top_rows():
    train_dev, dev = gaussian(60, 0.0, seed=6), gaussian(60, 1.0, seed=7)
    result = mismatch_check(train_dev, dev, np.arange(60) + DEV_ROW_OFFSET, 3, 1000, seed=0)
    exported = json.loads(json.dumps(result.as_dict(top=4)))
    assert set(exported) == {
        "auc", "auc_ci", "ci_level", "distinguishable", "interpretation",
        "train_dev_examples", "dev_examples", "folds", "most_unlike",
    }  # fmt: skip
    assert [item["row"] for item in exported["most_unlike"]] == result.most_unlike(4).tolist()
    assert exported["auc"] == pytest.approx(result.auc)


def test_a_split_smaller_than_folds_is_named_in_the_error():
    with pytest.raises(ValueError, match="the train_dev split has 3 examples, fewer than"):
        mismatch_check(gaussian(3, 0, 0), gaussian(50, 0, 1), np.arange(50), 5, 100, 0)
    with pytest.raises(ValueError, match="the dev split has 4 examples"):
        mismatch_check(gaussian(50, 0, 0), gaussian(4, 0, 1), np.arange(4), 5, 100, 0)
    with pytest.raises(ValueError, match="3 dev rows for 4 dev feature rows"):
        mismatch_check(gaussian(50, 0, 0), gaussian(4, 0, 1), np.arange(3), 2, 100, 0)


def test_per_domain_check_tells_a_shifted_synthetic_domain_from_one_drawn_like_dev():
    real, fonts = gaussian(150, 0.0, seed=10), gaussian(150, 1.5, seed=11)
    train_dev = np.concatenate([fonts[:75], real, fonts[75:]])  # domains interleaved
    domains = ["fonts"] * 75 + ["handwritten"] * 150 + ["fonts"] * 75
    synthetic = [name == "fonts" for name in domains]
    domains[-2:] = ["tiny", "tiny"]  # two examples, fewer than the folds
    synthetic[-2:] = [False, False]
    dev, rows = gaussian(200, 0.0, seed=12), np.arange(200) + DEV_ROW_OFFSET
    found = mismatch_by_domain(train_dev, domains, synthetic, dev, rows, 5, 1000, seed=0)

    assert [(entry.domain, entry.synthetic) for entry in found] == [
        ("handwritten", False), ("tiny", False), ("fonts", True),
    ]  # fmt: skip
    handwritten, tiny, fonts_entry = found
    assert handwritten.result.ci_low <= 0.5 <= handwritten.result.ci_high
    assert fonts_entry.result.auc > 0.9 and fonts_entry.result.distinguishable
    assert (handwritten.available, fonts_entry.available) == (150, 148)
    assert tiny.result is None and tiny.skipped == (
        "2 train-dev examples, fewer than analyze.mismatch.folds=5"
    )
    # The same function as the overall check, on the domain's rows alone.
    alone = mismatch_check(real, dev, rows, 5, 1000, seed=0)
    assert handwritten.result.auc == alone.auc

    records = json.loads(json.dumps([entry.as_dict() for entry in found]))
    assert records[2] == {
        "domain": "fonts", "synthetic": True, "train_dev_examples": 148, "dev_examples": 200,
        "auc": pytest.approx(fonts_entry.result.auc), "ci_low": fonts_entry.result.ci_low,
        "ci_high": fonts_entry.result.ci_high, "distinguishable": True, "skipped": None,
        "target": False, "share": pytest.approx(148 / 300),
        "interpretation": fonts_entry.interpretation,
    }  # fmt: skip
    assert records[1]["auc"] is None and records[1]["skipped"].startswith("2 train-dev")
    assert records[1]["train_dev_examples"] == 2


def test_each_domain_names_its_train_dev_rows_most_like_dev_and_most_like_itself():
    """Issue 19 item 5: the gallery shows the training side too, per domain. The fonts
    domain sits far from dev except five rows drawn like dev: those are its most dev-like
    rows, and its most train-dev-like ones are the farthest from dev, named by store row."""
    real, fonts = gaussian(100, 0.0, seed=30), gaussian(100, 3.0, seed=31)
    planted = np.array([3, 19, 42, 77, 96])
    fonts[planted] = gaussian(5, 0.0, seed=32)
    train_dev = np.concatenate([real, fonts])
    domains = ["handwritten"] * 100 + ["fonts"] * 100
    synthetic = [False] * 100 + [True] * 100
    train_dev_rows = np.arange(200) + 5000  # store rows, not positions
    dev, rows = gaussian(150, 0.0, seed=33), np.arange(150) + DEV_ROW_OFFSET
    pooled = mismatch_check(train_dev, dev, rows, 5, 1000, 0, train_dev_rows)
    handwritten, fonts_entry = mismatch_by_domain(
        train_dev, domains, synthetic, dev, rows, 5, 1000, 0, pooled=pooled,
        train_dev_rows=train_dev_rows,
    )  # fmt: skip

    like_dev, scores = fonts_entry.result.most_dev_like(5)
    assert sorted(like_dev.tolist()) == (planted + 5100).tolist()
    assert np.all(np.diff(scores) <= 0)
    typical, low = fonts_entry.result.most_train_dev_like(10)
    assert set(typical.tolist()) <= set(range(5100, 5200)) - set(like_dev.tolist())
    assert np.all(np.diff(low) >= 0) and low[-1] < scores[-1]
    # The target's rows are its own: every row named comes from the handwritten block.
    assert set(handwritten.result.most_dev_like(5)[0].tolist()) <= set(range(5000, 5100))
    assert set(pooled.most_train_dev_like(20)[0].tolist()) <= set(range(5100, 5200))
    with pytest.raises(ValueError, match="3 train-dev rows for 200 train-dev feature rows"):
        mismatch_check(train_dev, dev, rows, 5, 1000, 0, train_dev_rows[:3])


def test_a_pooled_auc_from_a_mixed_train_dev_is_read_as_composition_led_by_the_domains():
    # Dev is drawn exactly like the target's training data; 42% of train-dev comes from a
    # foreign domain the model tells apart perfectly. The pooled AUC lands near 0.7, which
    # says nothing about dev: the per-domain AUCs (about 0.5 and 1.0) lead the reading.
    target, foreign = gaussian(290, 0.0, seed=20), gaussian(210, 6.0, seed=21)
    train_dev = np.concatenate([target, foreign])
    domains = ["handwritten"] * 290 + ["mnist"] * 210
    dev, rows = gaussian(400, 0.0, seed=22), np.arange(400) + DEV_ROW_OFFSET
    pooled = mismatch_check(train_dev, dev, rows, 5, 1000, seed=0)
    found = mismatch_by_domain(
        train_dev, domains, [False] * 500, dev, rows, 5, 1000, seed=0, dev_domains=["handwritten"]
    )
    assert 0.6 < pooled.auc < 0.8
    handwritten, mnist = found
    assert handwritten.target and not mnist.target
    assert handwritten.share == pytest.approx(0.58) and mnist.share == pytest.approx(0.42)
    assert not handwritten.result.distinguishable and mnist.result.auc > 0.99
    assert handwritten.name == "handwritten (target)"
    assert DomainMismatch("synthetic", True, 10, None, "x").name == "synthetic"
    assert DomainMismatch("fonts", True, 10, None, "x").name == "fonts (synthetic)"
    summary = mismatch_summary(pooled, found)
    assert summary.startswith("Per training domain (its train-dev rows against dev): ")
    assert "handwritten (target) AUC" in summary and ": look alike to the model" in summary
    assert "mnist AUC 1.00" in summary and "easy to tell apart" in summary
    assert "Dev looks like the target's own training data" in summary
    assert "(58% handwritten (target), 42% mnist)" in summary
    assert "mostly measures that mix" in summary
    expected = 0.58 * handwritten.result.auc + 0.42 * mnist.result.auc
    assert f"give {expected:.2f}" in summary
    assert summary.index("Per training domain") < summary.index("Pooled")


def test_with_one_training_domain_the_summary_is_the_pooled_reading():
    train_dev, dev = gaussian(100, 0.0, seed=23), gaussian(100, 0.0, seed=24)
    rows = np.arange(100)
    pooled = mismatch_check(train_dev, dev, rows, 5, 1000, seed=0)
    found = mismatch_by_domain(train_dev, ["a"] * 100, [False] * 100, dev, rows, 5, 1000, 0)
    assert mismatch_summary(pooled, found) == pooled.interpretation


def test_a_group_holding_all_of_train_dev_reuses_the_pooled_check(monkeypatch):
    """One domain, no synthesis: the group's check would be the pooled one again (same
    sample, same folds), so it is taken as is; a group of part of the rows is fitted."""
    import traindev.analysis.mismatch as module

    train_dev, dev = gaussian(60, 0.0, seed=25), gaussian(60, 0.5, seed=26)
    rows = np.arange(60) + DEV_ROW_OFFSET
    pooled = mismatch_check(train_dev, dev, rows, 3, 1000, seed=4)
    fits = []
    fitted = module._out_of_fold_scores
    monkeypatch.setattr(
        module, "_out_of_fold_scores", lambda *args: fits.append(1) or fitted(*args)
    )
    alone = mismatch_by_domain(train_dev, ["a"] * 60, [False] * 60, dev, rows, 3, 1000, 4)
    assert len(fits) == 1
    reused = mismatch_by_domain(
        train_dev, ["a"] * 60, [False] * 60, dev, rows, 3, 1000, 4, pooled=pooled
    )
    assert len(fits) == 1 and reused[0].result is pooled
    assert reused[0].as_dict() == alone[0].as_dict()
    np.testing.assert_array_equal(alone[0].result.dev_scores, pooled.dev_scores)
    mixed = mismatch_by_domain(
        train_dev, ["a"] * 30 + ["b"] * 30, [False] * 60, dev, rows, 3, 1000, 4, pooled=pooled
    )
    assert len(fits) == 3 and all(entry.result is not pooled for entry in mixed)


def test_per_domain_check_splits_real_from_synthetic_rows_of_one_domain():
    train_dev = np.concatenate([gaussian(40, 0.0, seed=13), gaussian(40, 2.0, seed=14)])
    synthetic = [False] * 40 + [True] * 40
    dev, rows = gaussian(40, 0.0, seed=15), np.arange(40)
    found = mismatch_by_domain(train_dev, ["digits"] * 80, synthetic, dev, rows, 3, 1000, 0)
    assert [(entry.domain, entry.synthetic, entry.available) for entry in found] == [
        ("digits", False, 40), ("digits", True, 40),
    ]  # fmt: skip
    assert found[1].result.auc > found[0].result.auc
    with pytest.raises(ValueError, match="79 domains and 80 origins for 80 train_dev"):
        mismatch_by_domain(train_dev, ["digits"] * 79, synthetic, dev, rows, 3, 1000, 0)


def test_rank_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(8)
    negatives = rng.integers(0, 5, size=(3, 40)).astype(float)
    positives = rng.integers(1, 6, size=(3, 30)).astype(float)
    labels = np.r_[np.zeros(40), np.ones(30)]
    expected = [
        roc_auc_score(labels, np.r_[n, p]) for n, p in zip(negatives, positives, strict=True)
    ]
    assert auc_by_ranks(negatives, positives) == pytest.approx(expected)


def tiny_store(count: int = 10) -> ImageStore:
    rng = np.random.default_rng(9)
    pixels = rng.integers(0, 17, size=(count, 8, 8, 1), dtype=np.uint8)
    labels = [str(i % 3) for i in range(count)]
    manifest = pd.DataFrame(
        {"id": range(count), "source": "t", "domain": "t", "label": labels, "origin": "real",
         "tags": [[] for _ in labels], "split": "dev"}
    )  # fmt: skip
    return ImageStore(manifest, pixels, ["0", "1", "2"], 16)


def eval_logits(model: torch.nn.Module, store: ImageStore, rows: np.ndarray) -> torch.Tensor:
    pixels = torch.from_numpy(np.ascontiguousarray(store.pixels[rows]))
    with torch.no_grad():
        return model.eval()(to_model_input(pixels, store.pixel_max))


@pytest.mark.parametrize(
    "overrides", [{}, {"batch_norm": True, "dropout": 0.5}], ids=["default", "bn_dropout"]
)
def test_penultimate_features_feed_the_output_layer_to_the_models_logits(overrides):
    torch.manual_seed(0)
    store = tiny_store()
    params = ARCHITECTURE_PARAMS["deep_nn"](**overrides)
    model = build_model("deep_nn", params, store.image_shape, len(store.classes))
    _, _, head = output_layer(model)
    rows = np.array([7, 2, 5, 0, 9])
    model.train()  # features must come from eval mode whatever mode the model was left in
    features = penultimate_features(model, store, rows, CPU, batch_size=2)
    assert features.shape == (5, head.in_features) and features.dtype == np.float32
    with torch.no_grad():
        rebuilt = head(torch.from_numpy(features))
    torch.testing.assert_close(rebuilt, eval_logits(model, store, rows))
    assert not head._forward_pre_hooks  # the hook is removed again


def test_penultimate_features_of_no_rows_is_an_empty_matrix():
    store = tiny_store()
    params = ARCHITECTURE_PARAMS["deep_nn"]()
    model = build_model("deep_nn", params, store.image_shape, len(store.classes))
    features = penultimate_features(model, store, np.array([], dtype=np.int64), CPU, 4)
    assert features.shape == (0, output_layer(model)[2].in_features)
