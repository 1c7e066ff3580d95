"""The handwriting knobs: each changes the output as its parameter declares, and is tagged."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.synthesis import printed_fonts

from traindev.config import ParamsError, SynthesizeParams
from traindev.data.synthesis.distortions import (
    elastic_warp,
    grid_warp,
    signed_distance,
    smooth_field,
    thin,
    vary_stroke,
)
from traindev.data.synthesis.fonts import (
    BUNDLED_FONT_DIR,
    Handwriting,
    render_digit,
    synthesize_font_digits,
)
from traindev.params_file import validate_params

SANS = BUNDLED_FONT_DIR / "DejaVuSans.ttf"
KNOBS = {  # knob -> (range that turns it on, tag key)
    "slant_degrees": ((10.0, 30.0), "slant"),
    "stroke_variation": ((1.0, 2.0), "stroke_var"),
    "elastic_alpha": ((2.0, 4.0), "elastic"),
    "grid_distortion": ((2.0, 4.0), "grid"),
    "ink_threshold_jitter": ((-80, 80), "threshold"),
    "width_scale": ((0.5, 0.8), "width"),
}


def _params(**update) -> SynthesizeParams:
    return printed_fonts(fonts=["DejaVuSans.ttf"], count=20, seed=5, **update)


@pytest.fixture(scope="module")
def printed():
    return synthesize_font_digits(_params())


def _values(tags: list[str]) -> dict[str, str]:
    return dict(tag.split("=", 1) for tag in tags)


def _columns(bitmap: np.ndarray, rows: slice) -> float:
    """Mean column of the ink in ``rows``."""
    return float(np.nonzero(bitmap[rows])[1].mean())


# ----------------------------------------------------------------- dataset level


def test_knobs_off_add_no_tags_and_leave_pixels_as_printed(printed) -> None:
    assert all(
        list(_values(tags)) == ["font", "size", "offset", "rotation", "stroke"]
        for tags in printed.tags
    )
    again = synthesize_font_digits(_params(elastic_sigma=2.0, grid_cells=3))
    np.testing.assert_array_equal(again.pixels, printed.pixels)  # knobs off: sigma unused


@pytest.mark.parametrize("knob", list(KNOBS))
def test_each_knob_changes_pixels_and_tags_the_value_drawn(knob, printed) -> None:
    bounds, key = KNOBS[knob]
    made = synthesize_font_digits(_params(**{knob: bounds}))
    assert not np.array_equal(made.pixels, printed.pixels)
    assert made.labels == printed.labels  # the same digits, drawn differently
    drawn = [float(_values(tags)[key]) for tags in made.tags]
    if key == "threshold":  # tagged as the threshold applied, 128 + jitter
        bounds = (128 + bounds[0], 128 + bounds[1])
    assert all(bounds[0] <= value <= bounds[1] for value in drawn)
    assert len(set(drawn)) > 5  # drawn per image, not constant


def test_same_seed_identical_other_seed_differs_with_every_knob_on() -> None:
    params = _params(**{knob: bounds for knob, (bounds, _) in KNOBS.items()})
    first, second = synthesize_font_digits(params), synthesize_font_digits(params)
    np.testing.assert_array_equal(first.pixels, second.pixels)
    assert first.tags == second.tags
    other = synthesize_font_digits(params.model_copy(update={"seed": 6}))
    assert not np.array_equal(other.pixels, first.pixels)


# ----------------------------------------------------------------- one image


def test_slant_leans_the_top_right_and_negative_leans_left() -> None:
    def lean(slant: float) -> float:
        bitmap = render_digit("1", SANS, 28, (0, 0), 0.0, 0, 32, 128, Handwriting(slant=slant))
        return _columns(bitmap, slice(2, 10)) - _columns(bitmap, slice(20, 28))

    upright = lean(0.0)
    assert lean(20.0) > upright + 3
    assert lean(-20.0) < upright - 3


def test_threshold_jitter_raises_the_ink_threshold() -> None:
    def ink(jitter: int) -> int:
        style = Handwriting(threshold_jitter=jitter)
        return int(render_digit("8", SANS, 28, (0, 0), 0.0, 0, 32, 128, style).sum())

    assert ink(-100) > ink(0) > ink(100)


def test_width_scale_narrows_the_digit() -> None:
    def width(scale: float) -> int:
        bitmap = render_digit(
            "0", SANS, 28, (0, 0), 0.0, 0, 32, 128, Handwriting(width_scale=scale)
        )
        columns = np.nonzero(bitmap.any(axis=0))[0]
        return int(columns.max() - columns.min() + 1)

    assert width(0.6) < 0.75 * width(1.0)


def test_negative_stroke_is_a_finer_pen() -> None:
    normal = render_digit("3", SANS, 28, (0, 0), 0.0, 0, 32, 128).sum()
    finer = render_digit("3", SANS, 28, (0, 0), 0.0, -1, 32, 128).sum()
    assert finer < 0.8 * normal


# ----------------------------------------------------------------- the distortions


def test_smooth_field_peaks_at_exactly_one() -> None:
    field = smooth_field(np.random.default_rng(0), (32, 32), 3.0)
    assert np.isclose(np.abs(field).max(), 1.0)


@pytest.mark.parametrize("warp", ["elastic", "grid"])
def test_no_pixel_moves_further_than_the_amount(warp: str) -> None:
    # A ramp whose value is the column: after the warp each value is where it came from.
    ramp = np.tile(np.arange(40, dtype=np.float32), (40, 1))
    rng = np.random.default_rng(1)
    warped = (
        elastic_warp(ramp, 3.0, 4.0, rng) if warp == "elastic" else grid_warp(ramp, 3.0, 4, rng)
    )
    moved = np.abs(warped - ramp)[5:-5, 5:-5]
    assert moved.max() <= 3.0 + 1e-4
    assert moved.max() > 1.5  # and it does move
    assert np.array_equal(elastic_warp(ramp, 0.0, 4.0, rng), ramp)


def test_stroke_variation_moves_edges_by_at_most_the_amplitude() -> None:
    bar = np.zeros((32, 32), dtype=bool)
    bar[4:28, 12:20] = True
    varied = vary_stroke(bar, 2.0, 4.0, np.random.default_rng(2))
    changed = varied != bar
    assert changed.any()
    assert (np.abs(signed_distance(bar))[changed] <= 2.0 + 1e-9).all()
    assert (varied & ~bar).any() and (bar & ~varied).any()  # heavier here, lighter there


def test_thin_keeps_the_centre_line() -> None:
    bar = np.zeros((20, 20), dtype=bool)
    bar[2:18, 5:14] = True  # 9 pixels wide
    thinner = thin(bar, 2.0)
    assert set(thinner.sum(axis=1)[6:14]) == {5}  # 2 pixels off each side, away from the ends
    assert thin(bar, 10.0)[2:18].any(axis=1).all()  # the medial axis stays: never erased


# ----------------------------------------------------------------- params


def test_reversed_knob_range_is_a_params_error() -> None:
    with pytest.raises(ValueError, match=r"(?s)slant_degrees.*low <= high"):
        printed_fonts(fonts=["DejaVuSans.ttf"], slant_degrees=(20, -20))


def test_jitter_outside_the_grey_scale_is_a_params_error(default_params) -> None:
    default_params["synthesize"]["ink_threshold_jitter"] = [-200, 0]
    with pytest.raises(ParamsError, match=r"ink_threshold_jitter must stay in 1\.\.255"):
        validate_params(default_params)
