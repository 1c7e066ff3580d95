"""Hyperparameter search space for the `sweep` flow: random, per-knob scale, coarse to fine.

Following the notes (course 2, week 3, "Hyperparameter tuning"):

- Random, not a grid: "try random values, don't use a grid". A few knobs matter far more than
  others and we do not know which in advance; with a 5 x 5 grid we try only 5 values of the
  important one, with 25 random points we try 25.
- The right scale: "sample on a log scale". For the learning rate over 0.0001..1, uniform sampling
  spends ~90% of the trials in 0.1..1; uniform in log10 space gives each decade the same share.
- 1 - beta: for an averaging coefficient beta in 0.9..0.999, the average covers ~1/(1 - beta)
  values, so it is most sensitive near 1 (0.999 -> 0.9995 matters, 0.9 -> 0.9005 does not).
  Sample 1 - beta on a log scale: 0.1..0.001.
- Coarse to fine: after a coarse round, zoom in on the region of the best points and sample more
  densely there (`refine_region`, `sample(..., around=best)`).

Pure logic: no Prefect, DVC or MLflow. `to_dvc_overrides` writes `dvc exp run -S` arguments.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

import numpy as np

from traindev.config import ParamsError

Scale = Literal["linear", "int", "log", "one_minus_log", "choice"]
SCALES: tuple[str, ...] = get_args(Scale)
_FIELDS = {"scale", "low", "high", "choices"}
# Strings both YAML and Hydra (DVC's `-S` parser) read back as the same plain string.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./]*")
# Words YAML 1.1 or Hydra would read as a bool, null or number: quoted.
_WORDS = {"yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}


@dataclass(frozen=True)
class Knob:
    """One hyperparameter to sweep; `key` is its dotted params.yaml key."""

    key: str
    scale: Scale
    low: float | None = None
    high: float | None = None
    choices: tuple = ()  # for scale == "choice"; list values are held as tuples (hashable)


def parse_space(raw: Mapping[str, Mapping]) -> list[Knob]:
    """Knobs from params.yaml's `sweep.space` (key -> {scale, low, high} or {scale, choices})."""
    if not isinstance(raw, Mapping) or not raw:
        raise ParamsError("sweep.space: give at least one knob, e.g. train.lr: {scale: log, ...}")
    return [_parse_knob(str(key), spec) for key, spec in raw.items()]


def _parse_knob(key: str, spec: Any) -> Knob:
    where = f"sweep.space.{key}"
    if not isinstance(spec, Mapping):
        raise ParamsError(
            f"{where}: expected a mapping like {{scale: log, low: 1.0e-4, high: 0.1}}"
        )
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        raise ParamsError(f"{where}: unknown field(s) {unknown}; allowed: {sorted(_FIELDS)}")
    scale = spec.get("scale")
    if scale not in SCALES:
        raise ParamsError(f"{where}: scale {scale!r} is not one of {', '.join(SCALES)}")
    if scale == "choice":
        choices = spec.get("choices")
        if "low" in spec or "high" in spec:
            raise ParamsError(f"{where}: scale choice takes only `choices`, not low / high")
        if not isinstance(choices, list | tuple) or not choices:
            raise ParamsError(f"{where}: scale choice needs a non-empty list, e.g. choices: [a, b]")
        return Knob(key, "choice", choices=tuple(_freeze(c) for c in choices))
    if "choices" in spec:
        raise ParamsError(f"{where}: `choices` is only for scale choice; give low and high")
    low, high = spec.get("low"), spec.get("high")
    for name, value in (("low", low), ("high", high)):
        if not _is_number(value):
            hint = " (YAML reads 1e-4 as text: write 1.0e-4)" if isinstance(value, str) else ""
            raise ParamsError(f"{where}: {name} must be a finite number, got {value!r}{hint}")
    if not low < high:
        raise ParamsError(f"{where}: needs low < high, got low={low} high={high}; swap or widen")
    if scale == "log" and low <= 0:
        raise ParamsError(f"{where}: scale log needs low > 0 (got {low}); e.g. low: 1.0e-4")
    if scale == "one_minus_log" and not 0 <= low < high < 1:
        raise ParamsError(
            f"{where}: scale one_minus_log samples beta with 1 - beta log-uniform, so it needs "
            f"0 <= low < high < 1 (got {low}..{high}); e.g. low: 0.9, high: 0.999"
        )
    if scale == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise ParamsError(f"{where}: scale int needs integer bounds, got {low}..{high}")
    return Knob(key, scale, float(low), float(high))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def sample(
    knobs: list[Knob],
    n: int,
    seed: int,
    around: Sequence[Mapping[str, Any]] | None = None,
    shrink: float = 0.25,
) -> list[dict[str, Any]]:
    """`n` random configurations (key -> value); the same seed gives the same list.

    Scales: linear uniform; int uniform integers, both bounds included; log uniform in log10
    space; one_minus_log is 1 - 10**u with u uniform in [log10(1 - high), log10(1 - low)];
    choice a uniform pick.

    Coarse to fine: with `around` (the best configurations of the coarse round), each knob is
    first narrowed by `refine_region`: numeric knobs to a box in the knob's own scale (log10(x)
    for log, log10(1 - x) for one_minus_log, x otherwise) spanning the best points' min..max,
    widened on each side by `shrink` times the knob's full range in that scale and clipped to
    the original bounds; choice knobs to the choices that appear among the best.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if around is not None:
        knobs = refine_region(knobs, around, shrink)
    rng = np.random.default_rng(seed)
    return [{knob.key: _draw(knob, rng) for knob in knobs} for _ in range(n)]


def _draw(knob: Knob, rng: np.random.Generator) -> Any:
    """One value; clipped so float round-off in 10**u never leaves the bounds."""
    if knob.scale == "choice":
        return _thaw(knob.choices[int(rng.integers(len(knob.choices)))])
    low, high = float(knob.low), float(knob.high)  # type: ignore[arg-type]
    if knob.scale == "int":
        return int(rng.integers(math.ceil(low), math.floor(high), endpoint=True))
    lo, hi = sorted((_to_scale(knob.scale, low), _to_scale(knob.scale, high)))
    value = _from_scale(knob.scale, float(rng.uniform(lo, hi)))
    return min(max(value, low), high)


def _to_scale(scale: str, x: float) -> float:
    """Where the knob's values are spread evenly."""
    if scale == "log":
        return math.log10(x)
    if scale == "one_minus_log":
        return math.log10(1.0 - x)
    return x


def _from_scale(scale: str, u: float) -> float:
    if scale == "log":
        return 10.0**u
    if scale == "one_minus_log":
        return 1.0 - 10.0**u
    return u


def refine_region(
    knobs: list[Knob], best: Sequence[Mapping[str, Any]], shrink: float = 0.25
) -> list[Knob]:
    """The knobs narrowed around the best configurations (the rule is in `sample`'s docstring)."""
    if not best:
        raise ValueError("coarse to fine needs at least one best configuration")
    if shrink < 0:
        raise ValueError(f"shrink must be >= 0, got {shrink}")
    for i, config in enumerate(best):
        missing = [knob.key for knob in knobs if knob.key not in config]
        if missing:
            raise ValueError(f"best configuration {i} lacks {missing}; pass the swept values")
    return [_refine(knob, [config[knob.key] for config in best], shrink) for knob in knobs]


def _refine(knob: Knob, values: list[Any], shrink: float) -> Knob:
    if knob.scale == "choice":
        frozen = [_freeze(v) for v in values]
        if any(v not in knob.choices for v in frozen):
            raise ValueError(f"{knob.key}: a best value is not among {list(knob.choices)}")
        return replace(knob, choices=tuple(c for c in knob.choices if c in frozen))
    low, high = float(knob.low), float(knob.high)  # type: ignore[arg-type]
    if any(not low <= float(v) <= high for v in values):
        raise ValueError(f"{knob.key}: a best value in {values} is outside {low}..{high}")
    ends = sorted((_to_scale(knob.scale, low), _to_scale(knob.scale, high)))
    points = [_to_scale(knob.scale, float(v)) for v in values]
    margin = shrink * (ends[1] - ends[0])
    box = (max(min(points) - margin, ends[0]), min(max(points) + margin, ends[1]))
    new_low, new_high = sorted(_from_scale(knob.scale, u) for u in box)
    new_low, new_high = max(new_low, low), min(new_high, high)
    if knob.scale == "int":  # widen to whole numbers so every best integer stays reachable
        new_low, new_high = float(math.floor(new_low)), float(math.ceil(new_high))
    return replace(knob, low=new_low, high=new_high)


def to_dvc_overrides(config: Mapping[str, Any]) -> list[str]:
    """`key=value` arguments for `dvc exp run -S`, e.g. ["train.lr=0.0031", "a.b=[64, 32]"].

    DVC parses values with Hydra's override grammar; the text written here reads back as the same
    value there and through yaml.safe_load (e.g. 1e-05 is written 1.0e-05, which YAML 1.1 needs).
    """
    return [f"{key}={_format(value)}" for key, value in config.items()]


def _format(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot pass {value} to dvc exp run -S; use a finite number")
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _WORDS:
            return value
        if any(c in value for c in "'\"\\") or "${" in value or not value.isprintable():
            raise ValueError(f"cannot pass {value!r} to dvc exp run -S: drop quotes / backslashes")
        return f"'{value}'"
    raise TypeError(f"cannot pass {type(value).__name__} {value!r} to dvc exp run -S")


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list | tuple) else value


def _thaw(value: Any) -> Any:
    return [_thaw(v) for v in value] if isinstance(value, tuple) else value
