"""Sweep sampling: seeded, in bounds, on the right scale, coarse to fine; `dvc exp run -S` text."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from pipeline.search_space import Knob, parse_space, refine_region, sample, to_dvc_overrides
from traindev.config import ParamsError

SPACE = {
    "train.lr": {"scale": "log", "low": 1e-4, "high": 1e-1},
    "train.beta1": {"scale": "one_minus_log", "low": 0.9, "high": 0.999},
    "train.batch_size": {"scale": "int", "low": 16, "high": 256},
    "models.deep_nn.dropout": {"scale": "linear", "low": 0.0, "high": 0.5},
    "models.deep_nn.hidden_sizes": {"scale": "choice", "choices": [[64], [128, 64], [256, 128]]},
    "train.optimizer": {"scale": "choice", "choices": ["adam", "momentum", "rmsprop"]},
}


def _inside(knob: Knob, value) -> bool:
    if knob.scale == "choice":
        return tuple(value) in knob.choices if isinstance(value, list) else value in knob.choices
    return knob.low <= value <= knob.high


def test_the_same_seed_gives_the_same_configurations_and_another_seed_does_not():
    knobs = parse_space(SPACE)
    assert sample(knobs, 20, seed=3) == sample(knobs, 20, seed=3)
    assert sample(knobs, 20, seed=3) != sample(knobs, 20, seed=4)


def test_every_value_lies_within_its_knob_and_has_a_plain_python_type():
    knobs = parse_space(SPACE)
    for config in sample(knobs, 500, seed=0):
        assert list(config) == [knob.key for knob in knobs]
        for knob in knobs:
            assert _inside(knob, config[knob.key]), (knob, config[knob.key])
        assert type(config["train.lr"]) is float
        assert type(config["train.batch_size"]) is int
        assert type(config["models.deep_nn.hidden_sizes"]) is list


def _decade_shares(values: list[float]) -> np.ndarray:
    counts = np.bincount(np.floor(np.log10(values)).astype(int) + 4, minlength=4)[:4]
    return counts / len(values)


def test_log_scale_gives_each_decade_an_equal_share_where_linear_crowds_the_top_one():
    log = parse_space({"lr": {"scale": "log", "low": 1e-4, "high": 1.0}})
    lin = parse_space({"lr": {"scale": "linear", "low": 1e-4, "high": 1.0}})
    log_shares = _decade_shares([c["lr"] for c in sample(log, 4000, seed=0)])
    lin_shares = _decade_shares([c["lr"] for c in sample(lin, 4000, seed=0)])
    assert np.all(np.abs(log_shares - 0.25) < 0.03), log_shares
    assert lin_shares[-1] > 0.87, lin_shares  # 0.1..1 is 90% of the linear range


def test_one_minus_log_splits_0_9_to_0_999_evenly_at_0_99():
    knobs = parse_space({"train.beta2": {"scale": "one_minus_log", "low": 0.9, "high": 0.999}})
    betas = np.array([c["train.beta2"] for c in sample(knobs, 4000, seed=0)])
    assert betas.min() >= 0.9 and betas.max() <= 0.999
    assert abs(np.mean(betas < 0.99) - 0.5) < 0.03


def test_int_scale_reaches_both_bounds():
    knobs = parse_space({"train.epochs": {"scale": "int", "low": 1, "high": 3}})
    values = [c["train.epochs"] for c in sample(knobs, 300, seed=0)]
    assert set(values) == {1, 2, 3}


def test_choice_picks_every_choice_uniformly():
    knobs = parse_space({"train.optimizer": SPACE["train.optimizer"]})
    values = [c["train.optimizer"] for c in sample(knobs, 3000, seed=0)]
    for choice in ("adam", "momentum", "rmsprop"):
        assert abs(values.count(choice) / 3000 - 1 / 3) < 0.03


def test_refine_region_narrows_around_the_best_in_the_knobs_own_scale():
    knobs = {k.key: k for k in parse_space(SPACE)}
    best = [
        {"train.lr": 1e-3, "train.beta1": 0.99, "train.batch_size": 64,
         "models.deep_nn.dropout": 0.2, "models.deep_nn.hidden_sizes": [128, 64],
         "train.optimizer": "adam"},
        {"train.lr": 3e-3, "train.beta1": 0.995, "train.batch_size": 100,
         "models.deep_nn.dropout": 0.3, "models.deep_nn.hidden_sizes": [256, 128],
         "train.optimizer": "adam"},
    ]  # fmt: skip
    fine = {k.key: k for k in refine_region(list(knobs.values()), best, shrink=0.1)}
    # log: 3 decades wide, so +- 0.3 decade around 1e-3..3e-3
    assert fine["train.lr"].low == pytest.approx(10 ** (-3.3))
    assert fine["train.lr"].high == pytest.approx(3e-3 * 10**0.3)
    # one_minus_log: 1 - beta in 0.01..0.005, widened by 0.2 decade
    assert fine["train.beta1"].low == pytest.approx(1 - 0.01 * 10**0.2)
    assert fine["train.beta1"].high == pytest.approx(1 - 0.005 / 10**0.2)
    assert (fine["train.batch_size"].low, fine["train.batch_size"].high) == (40, 124)
    assert fine["models.deep_nn.dropout"].low == pytest.approx(0.15)
    assert fine["models.deep_nn.dropout"].high == pytest.approx(0.35)
    assert fine["models.deep_nn.hidden_sizes"].choices == ((128, 64), (256, 128))
    assert fine["train.optimizer"].choices == ("adam",)


def test_refine_region_stays_inside_the_original_bounds():
    knobs = parse_space(SPACE)
    edge = {k.key: (k.low if k.scale != "choice" else list(k.choices[0])) for k in knobs}
    edge["train.optimizer"] = "adam"
    edge["train.batch_size"] = 16
    other = dict(edge, **{k.key: k.high for k in knobs if k.scale != "choice"})
    for best in ([edge], [other], [edge, other]):
        for old, new in zip(knobs, refine_region(knobs, best), strict=True):
            if old.scale != "choice":
                assert old.low <= new.low < new.high <= old.high, (old, new)
    wide = {k.key: k for k in refine_region(knobs, [edge, other])}
    assert wide["train.lr"] == Knob("train.lr", "log", 1e-4, 1e-1)


def test_fine_samples_all_lie_inside_the_refined_region():
    knobs = parse_space(SPACE)
    best = sample(knobs, 3, seed=1)
    fine = refine_region(knobs, best)
    configs = sample(knobs, 1000, seed=2, around=best)
    assert configs == sample(fine, 1000, seed=2)
    for config in configs:
        for knob in fine:
            assert _inside(knob, config[knob.key]), (knob, config[knob.key])


def test_refine_region_refuses_best_values_outside_the_space():
    knobs = parse_space(
        {"train.lr": SPACE["train.lr"], "train.optimizer": SPACE["train.optimizer"]}
    )
    with pytest.raises(ValueError, match=r"train\.lr"):
        refine_region(knobs, [{"train.lr": 0.5, "train.optimizer": "adam"}])
    with pytest.raises(ValueError, match=r"train\.optimizer"):
        refine_region(knobs, [{"train.lr": 0.01, "train.optimizer": "sgd"}])
    with pytest.raises(ValueError, match=r"lacks \['train\.optimizer'\]"):
        refine_region(knobs, [{"train.lr": 0.01}])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"scale": "log", "low": 0.1, "high": 0.01}, "low < high"),
        ({"scale": "log", "low": 0.0, "high": 0.1}, "low > 0"),
        ({"scale": "one_minus_log", "low": 0.9, "high": 1.0}, "0 <= low < high < 1"),
        ({"scale": "int", "low": 1, "high": 2.5}, "integer bounds"),
        ({"scale": "choice", "choices": []}, "non-empty list"),
        ({"scale": "cubic", "low": 1, "high": 2}, "linear, int, log, one_minus_log, choice"),
        ({"scale": "linear", "low": 0, "high": 1, "step": 0.1}, r"unknown field\(s\) \['step'\]"),
        ({"scale": "linear", "low": 0}, "high must be a finite number"),
        ({"scale": "log", "low": "1e-4", "high": 0.1}, r"write 1\.0e-4"),
        ({"scale": "linear", "low": 0, "high": 1, "choices": [1]}, "only for scale choice"),
    ],
)
def test_parse_space_errors_name_the_key_and_the_fix(spec, message):
    with pytest.raises(ParamsError, match=rf"^sweep\.space\.train\.lr: .*{message}"):
        parse_space({"train.lr": spec})


def _hydra_value(override: str):
    """What `dvc exp run -S` stores: DVC parses each override with Hydra's grammar."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides([override])[0].value()


@pytest.mark.parametrize(
    "value",
    [0.0031, 1e-5, 3.0e-7, 1e20, 0.999, -0.5, 0.0, 64, True, None, [64, 32], [[1, 2], []],
     "relu", "models:/traindev@champion", "on", "null", "1.5", "nan", "a b"],
)  # fmt: skip
def test_overrides_read_back_as_the_same_value_in_yaml_and_in_dvcs_parser(value):
    (override,) = to_dvc_overrides({"models.deep_nn.x": value})
    key, _, text = override.partition("=")
    assert key == "models.deep_nn.x"
    assert yaml.safe_load(text) == value and type(yaml.safe_load(text)) is type(value)
    assert _hydra_value(override) == value


def test_sampled_configurations_become_dvc_overrides_that_round_trip():
    config = sample(parse_space(SPACE), 1, seed=0)[0]
    overrides = to_dvc_overrides(config)
    assert [o.partition("=")[0] for o in overrides] == list(SPACE)
    assert {o.partition("=")[0]: yaml.safe_load(o.partition("=")[2]) for o in overrides} == config
    assert {o.partition("=")[0]: _hydra_value(o) for o in overrides} == config
    assert "models.deep_nn.hidden_sizes=[" in " ".join(overrides)


def test_dvc_writes_the_sampled_values_into_params_yaml_unchanged(tmp_path):
    """DVC's own `-S` code path (Hydra parse, then its YAML 1.2 write), without a repository.

    DVC writes 1e-05 back as `1e-05`, which yaml.safe_load (YAML 1.1) reads as text; DVC's own
    loader and traindev's typed params (pydantic coerces it) read the float.
    """
    from dvc.utils.hydra import apply_overrides
    from dvc.utils.serialize import load_yaml

    params = tmp_path / "params.yaml"
    params.write_text(
        "train: {lr: 0.001, beta1: 0.9, batch_size: 64, optimizer: adam}\n"
        "models: {deep_nn: {dropout: 0.2, hidden_sizes: [256, 128]}}\n"
    )
    config = sample(parse_space(SPACE), 1, seed=7)[0] | {"train.lr": 1e-5}
    apply_overrides(params, to_dvc_overrides(config))
    written = load_yaml(params)
    for key, value in config.items():
        section, *rest = key.split(".")
        node = written[section]
        for part in rest:
            node = node[part]
        assert node == value and type(node) is type(value), key


def test_overrides_refuse_values_dvc_cannot_take_verbatim():
    for bad in (float("inf"), "it's", {"a": 1}):
        with pytest.raises((ValueError, TypeError)):
            to_dvc_overrides({"k": bad})
