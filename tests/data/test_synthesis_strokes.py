"""Pen-drawn digits: every template draws, the draws are seeded, each knob does what it says."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from helpers.synthesis import printed_fonts

from traindev.config import ParamsError, StrokesParams, SynthesizeParams
from traindev.data.synthesis.diversity import STROKE_POOLS, diversity_report
from traindev.data.synthesis.fonts import synthesize_font_digits
from traindev.data.synthesis.strokes import (
    PEN_SCALE,
    TEMPLATES,
    WriterStyle,
    fit_pen,
    render_stroke_digit,
    synthesize_digits,
    synthesize_stroke_digits,
)
from traindev.params_file import validate_params


def _params(**update) -> SynthesizeParams:
    return printed_fonts(fonts=["DejaVuSans.ttf"], count=20, seed=3, **update)


def _draw(digit: str = "1", template: str = "stick", **style) -> np.ndarray:
    return render_stroke_digit(digit, WriterStyle(template=template, **style))


def _rows_and_columns(bitmap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, columns = np.nonzero(bitmap)
    return rows, columns


@pytest.mark.parametrize(
    ("digit", "template"), [(d, t) for d, names in TEMPLATES.items() for t in names]
)
def test_every_template_draws_ink_of_the_declared_height_inside_the_box(digit, template) -> None:
    bitmap = _draw(digit, template, height=24.0, pen_width=3.0, slant=15.0)
    rows, columns = _rows_and_columns(bitmap)
    assert bitmap.shape == (32, 32)
    assert 0.05 < bitmap.mean() < 0.6
    assert 22 <= rows.max() - rows.min() + 1 <= 26  # ink height ~ the style's height
    # Nothing clipped: a 24-pixel digit keeps clear of the 32-pixel canvas's edges.
    assert rows.min() > 0 and columns.min() > 0 and rows.max() < 31 and columns.max() < 31


def test_slant_leans_the_top_right_and_negative_leans_left() -> None:
    def lean(bitmap: np.ndarray) -> float:  # top's mean column minus bottom's
        rows, columns = _rows_and_columns(bitmap)
        middle = (rows.min() + rows.max()) / 2
        return columns[rows < middle].mean() - columns[rows > middle].mean()

    assert abs(lean(_draw())) < 0.5
    assert lean(_draw(slant=20.0)) > 3
    assert lean(_draw(slant=-20.0)) < -3


def test_pen_width_adds_ink_and_aspect_widens() -> None:
    assert _draw("0", "oval", pen_width=5.0).sum() > _draw("0", "oval", pen_width=2.0).sum() + 50

    def width(bitmap: np.ndarray) -> int:
        columns = np.nonzero(bitmap)[1]
        return int(columns.max() - columns.min() + 1)

    assert width(_draw("0", "oval", aspect=0.9)) > width(_draw("0", "oval", aspect=0.5)) + 5


@pytest.mark.parametrize(("digit", "template"), [("1", "stick"), ("8", "figure")])
def test_ink_share_fits_the_pen_to_ink_that_share_of_the_canvas(digit, template) -> None:
    style = WriterStyle(template=template, pen_width=2.0, ink_share=0.3)
    bitmap = _draw(digit, template, pen_width=2.0, ink_share=0.3)
    assert bitmap.mean() == pytest.approx(0.3, abs=0.03)
    assert fit_pen(digit, style) > 2.0  # a heavier pen than the starting guess
    lighter = _draw(digit, template, pen_width=2.0, ink_share=0.2)
    assert lighter.mean() == pytest.approx(0.2, abs=0.03)


def test_ink_share_range_is_drawn_and_tagged_with_the_fitted_pen() -> None:
    params = _params(source="strokes", strokes=StrokesParams(ink_share=(0.25, 0.35)))
    made = synthesize_stroke_digits(params, 10)
    for tags, pixels in zip(made.tags, made.pixels, strict=True):
        values = dict(tag.split("=", 1) for tag in tags)
        assert 0.25 <= float(values["ink_share"]) <= 0.35
        # 4x4 block counts sum to the ink pixels of the 32x32 bitmap
        assert int(pixels.sum()) / 1024 == pytest.approx(float(values["ink_share"]), abs=0.04)


def test_jitter_curvature_and_elastic_change_the_drawing_and_are_seeded() -> None:
    plain = _draw("2", "curved")
    for knob in ({"jitter": 0.05}, {"curvature": 0.0}, {"elastic_alpha": 2.0}):
        changed = _draw("2", "curved", **knob)
        assert not np.array_equal(changed, plain), knob
        np.testing.assert_array_equal(changed, _draw("2", "curved", **knob))  # same seed
    assert not np.array_equal(
        _draw("2", "curved", jitter=0.05, seed=(1,)), _draw("2", "curved", jitter=0.05, seed=(2,))
    )


def test_stroke_set_is_seeded_balanced_and_tagged_within_ranges() -> None:
    params = _params(source="strokes", strokes=StrokesParams(ink_share=(0.0, 0.0)))
    first, second = synthesize_stroke_digits(params, 30), synthesize_stroke_digits(params, 30)
    np.testing.assert_array_equal(first.pixels, second.pixels)
    assert first.tags == second.tags
    other = synthesize_stroke_digits(params.model_copy(update={"seed": 4}), 30)
    assert not np.array_equal(other.pixels, first.pixels)
    assert sorted(first.labels) == sorted("0123456789" * 3)
    assert first.pixels.dtype == np.uint8 and first.pixels.max() <= 16
    for label, tags in zip(first.labels, first.tags, strict=True):
        values = dict(tag.split("=", 1) for tag in tags)
        assert values["source"] == "strokes"
        assert values["template"].split("_", 1)[0] == label
        assert values["template"].split("_", 1)[1] in TEMPLATES[label]
        low, high = params.strokes.pen_width
        scale = PEN_SCALE.get(label, 1.0)  # a 1's pen is heavier
        assert low * scale - 0.05 <= float(values["pen"]) <= high * scale + 0.05


def test_share_mixes_strokes_into_fonts_and_zero_leaves_fonts_unchanged() -> None:
    fonts = synthesize_font_digits(_params())
    unchanged = synthesize_digits(_params())  # share 0 by default
    np.testing.assert_array_equal(unchanged.pixels, fonts.pixels)
    assert unchanged.tags == fonts.tags
    mixed = synthesize_digits(_params(strokes=StrokesParams(share=0.25)))
    pen_drawn = ["source=strokes" in tags for tags in mixed.tags]
    assert len(mixed.labels) == 20 and sum(pen_drawn) == 5
    only = synthesize_digits(_params(source="strokes"))
    assert all("source=strokes" in tags for tags in only.tags)


def test_diversity_counts_stroke_templates_as_sources() -> None:
    made = synthesize_stroke_digits(_params(source="strokes"), 200)
    report = diversity_report(made.tags, STROKE_POOLS, 5.0, "strokes")
    pool = report["pools"]["stroke templates"]
    assert pool["images"] == 200
    assert pool["distinct"] == sum(len(names) for names in TEMPLATES.values())
    assert sum(pool["shares"].values()) == pytest.approx(1.0, abs=1e-3)
    assert not report["narrow"]
    # One template for everything: the narrow-pool warning names the stroke templates.
    narrow = diversity_report([["template=1_stick"]] * 50, STROKE_POOLS, 5.0, "strokes")
    assert narrow["narrow"] and "stroke templates" in narrow["warnings"][0]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("share", 1.5, r"synthesize\.strokes\.share"),
        ("pen_width", [6, 3], r"synthesize\.strokes\.pen_width"),
        ("pen_width", [0, 3], r"synthesize\.strokes\.pen_width"),
        ("jitter", [-0.1, 0.1], r"synthesize\.strokes\.jitter"),
        ("colour", 1, r"synthesize\.strokes\.colour"),
    ],
)
def test_bad_strokes_params_name_the_key(default_params, key, value, message) -> None:
    raw = copy.deepcopy(default_params)
    raw["synthesize"]["strokes"][key] = value
    with pytest.raises(ParamsError, match=message):
        validate_params(raw)
