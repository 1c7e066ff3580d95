"""Are dev and test big enough? The notes' rule, as numbers.

The notes size dev "big enough to evaluate and compare ideas" and test "big enough
to ensure confidence in final system performance". For an error rate p measured on
n examples the 95% interval is about p +- 1.96 sqrt(p (1 - p) / n) (normal
approximation; the Wilson interval is given too, which stays inside [0, 1] for
small n or p). Two models' errors on a dev set of n differ significantly only when
the gap exceeds about 1.96 sqrt(2 p (1 - p) / n), the half-width of a difference of
two independent estimates; a paired test on the same dev set (McNemar) can do better
when the models mostly agree, so this is the conservative figure.
"""

from __future__ import annotations

import math
from statistics import NormalDist

LEVEL = 0.95
Z = NormalDist().inv_cdf(0.5 + LEVEL / 2)  # 1.959964


def half_width(error: float, n: int) -> float:
    """Normal-approximation half-width of the 95% interval of an error rate over n examples."""
    return Z * math.sqrt(error * (1 - error) / n) if n else math.inf


def wilson_interval(error: float, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval for an error rate over n examples."""
    if not n:
        return 0.0, 1.0
    centre = (error + Z**2 / (2 * n)) / (1 + Z**2 / n)
    spread = Z / (1 + Z**2 / n) * math.sqrt(error * (1 - error) / n + Z**2 / (4 * n**2))
    return max(0.0, centre - spread), min(1.0, centre + spread)


def resolvable_difference(error: float, n: int) -> float:
    """Smallest gap between two models' errors near `error` that n examples resolve (95%)."""
    return math.sqrt(2) * half_width(error, n)


def examples_needed(error: float, half: float, pairs: bool = False) -> int:
    """Examples for a 95% half-width of `half` (or, with `pairs`, to resolve a gap of `half`)."""
    return math.ceil((2 if pairs else 1) * Z**2 * error * (1 - error) / half**2)


def split_confidence(
    n_dev: int, n_test: int, expected_error: float, min_difference: float
) -> tuple[dict, list[str]]:
    """The confidence block of reports/split/summary.json, and a warning per set too small.

    Dev must resolve `min_difference` between two models; test must pin the final error
    to +- `min_difference`.
    """
    p = expected_error
    dev_resolves = resolvable_difference(p, n_dev)
    test_half = half_width(p, n_test)
    block = {
        "level": LEVEL,
        "expected_error": p,
        "min_resolvable_difference": min_difference,
        "dev": {
            **_interval(p, n_dev),
            "resolvable_difference": _round(dev_resolves),
            "examples_needed": examples_needed(p, min_difference, pairs=True),
            "big_enough": dev_resolves <= min_difference,
        },
        "test": {
            **_interval(p, n_test),
            "examples_needed": examples_needed(p, min_difference),
            "big_enough": test_half <= min_difference,
        },
    }
    warnings = []
    if not block["dev"]["big_enough"]:
        warnings.append(
            f"dev set too small: {n_dev} examples tell two models apart (95%) only when their "
            f"errors near {p:.1%} differ by {_pct(dev_resolves)} or more; resolving "
            f"{min_difference:.1%} (split.min_resolvable_difference) needs about "
            f"{block['dev']['examples_needed']:,} dev examples"
        )
    if not block["test"]["big_enough"]:
        warnings.append(
            f"test set too small: {n_test} examples measure an error near {p:.1%} only to "
            f"+-{_pct(test_half)} (95%); +-{min_difference:.1%} needs about "
            f"{block['test']['examples_needed']:,} test examples"
        )
    return block, warnings


def _interval(error: float, n: int) -> dict:
    low, high = wilson_interval(error, n)
    return {
        "examples": n,
        "half_width": _round(half_width(error, n)),
        "wilson_interval": [round(low, 6), round(high, 6)],
    }


def _round(value: float) -> float | None:
    """JSON has no infinity: an empty set's half-width is null."""
    return round(value, 6) if math.isfinite(value) else None


def _pct(value: float) -> str:
    return f"{value:.1%}" if math.isfinite(value) else "any amount (the set is empty)"
