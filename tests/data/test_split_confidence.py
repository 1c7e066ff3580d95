"""Dev / test size check: the 95% half-width, the resolvable difference and the warnings."""

from __future__ import annotations

import math

import pytest

from traindev.data.split_confidence import (
    examples_needed,
    half_width,
    resolvable_difference,
    split_confidence,
    wilson_interval,
)


def test_half_width_is_the_normal_approximation_at_95_percent():
    assert half_width(0.05, 10_000) == pytest.approx(1.959964 * math.sqrt(0.05 * 0.95 / 10_000))
    assert half_width(0.05, 10_000) == pytest.approx(0.00427, abs=1e-5)
    assert resolvable_difference(0.05, 10_000) == pytest.approx(0.00604, abs=1e-5)
    assert half_width(0.05, 0) == math.inf


def test_examples_needed_is_the_smallest_n_that_reaches_the_target():
    for error, target in ((0.03, 0.01), (0.1, 0.005), (0.5, 0.02)):
        n = examples_needed(error, target, pairs=True)
        assert resolvable_difference(error, n) <= target < resolvable_difference(error, n - 1)
        m = examples_needed(error, target)
        assert half_width(error, m) <= target < half_width(error, m - 1)


def test_wilson_interval_contains_the_error_and_stays_in_zero_one():
    low, high = wilson_interval(0.01, 50)
    assert 0.0 <= low < 0.01 < high <= 1.0
    low, high = wilson_interval(0.05, 100_000)  # large n: Wilson meets the normal approximation
    assert (high - low) / 2 == pytest.approx(half_width(0.05, 100_000), rel=0.001)


def test_a_dev_set_of_440_cannot_resolve_one_point_and_says_how_many_it_needs():
    block, warnings = split_confidence(440, 444, expected_error=0.03, min_difference=0.01)
    assert block["dev"]["examples"] == 440
    assert block["dev"]["half_width"] == pytest.approx(0.0159, abs=1e-4)
    assert block["dev"]["resolvable_difference"] == pytest.approx(0.0225, abs=1e-4)
    assert block["dev"]["examples_needed"] == 2236 and not block["dev"]["big_enough"]
    assert block["test"]["examples_needed"] == 1118 and not block["test"]["big_enough"]
    assert len(warnings) == 2
    assert warnings[0].startswith("dev set too small: 440 examples")
    assert "about 2,236 dev examples" in warnings[0]
    assert "test set too small: 444 examples" in warnings[1]


def test_the_notes_million_example_split_is_big_enough_and_warns_nothing():
    """98 / 1 / 1 of a million: 10,000 dev examples resolve 0.5 points at a 3% error."""
    block, warnings = split_confidence(10_000, 10_000, expected_error=0.03, min_difference=0.01)
    assert block["dev"]["big_enough"] and block["test"]["big_enough"] and warnings == []
    assert block["dev"]["resolvable_difference"] < 0.005


def test_an_empty_dev_set_is_a_warning_not_a_crash():
    block, warnings = split_confidence(0, 100, expected_error=0.03, min_difference=0.01)
    assert block["dev"]["half_width"] is None and block["dev"]["resolvable_difference"] is None
    assert "any amount (the set is empty)" in warnings[0]
