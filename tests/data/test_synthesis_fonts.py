"""Font digit synthesis: the optdigits reduction, reproducibility, balance, tags, font checks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers.synthesis import printed_fonts

from traindev.data.synthesis.fonts import (
    BUNDLED_FONT_DIR,
    SynthesizedDigits,
    digit_capable_fonts,
    reduce_to_ink_counts,
    render_digit,
    resolve_fonts,
    synthesize_font_digits,
)

SANS = BUNDLED_FONT_DIR / "DejaVuSans.ttf"


@pytest.fixture(scope="module")
def digits() -> SynthesizedDigits:
    params = printed_fonts(
        fonts=["DejaVuSans.ttf", "cmr10.ttf"], count=200, seed=3, font_size=(22, 30)
    )
    return synthesize_font_digits(params)


def _ink_box(bitmap: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(bitmap)
    return rows.min(), rows.max(), cols.min(), cols.max()


# ----------------------------------------------------------------- reduction


def test_all_ink_counts_sixteen_per_block() -> None:
    counts = reduce_to_ink_counts(np.ones((32, 32), dtype=bool))
    assert counts.shape == (8, 8)
    assert counts.dtype == np.uint8
    assert (counts == 16).all()


def test_one_ink_pixel_lands_in_its_block() -> None:
    bitmap = np.zeros((32, 32), dtype=np.uint8)
    bitmap[13, 30] = 1  # row block 13 // 4 = 3, column block 30 // 4 = 7
    counts = reduce_to_ink_counts(bitmap)
    expected = np.zeros((8, 8), dtype=np.uint8)
    expected[3, 7] = 1
    np.testing.assert_array_equal(counts, expected)


def test_reduction_counts_partial_blocks_and_other_canvases() -> None:
    bitmap = np.zeros((32, 32), dtype=bool)
    bitmap[0:4, 0:2] = True  # half of the top-left block
    assert reduce_to_ink_counts(bitmap)[0, 0] == 8
    assert (reduce_to_ink_counts(np.ones((64, 64))) == 64).all()


@pytest.mark.parametrize("shape", [(30, 32), (32,), (8, 8, 1)])
def test_reduction_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        reduce_to_ink_counts(np.zeros(shape))


# ----------------------------------------------------------------- dataset


def test_pixels_are_uint8_block_counts(digits: SynthesizedDigits) -> None:
    assert digits.pixels.shape == (200, 8, 8, 1)
    assert digits.pixels.dtype == np.uint8
    assert digits.pixels.max() <= 16
    assert digits.pixels.max() == 16  # thick strokes fill whole blocks, as in optdigits
    assert 2.0 < digits.pixels.mean() < 8.0


def test_same_params_identical_other_seed_differs(digits: SynthesizedDigits) -> None:
    params = printed_fonts(
        fonts=["DejaVuSans.ttf", "cmr10.ttf"], count=200, seed=3, font_size=(22, 30)
    )
    again = synthesize_font_digits(params)
    np.testing.assert_array_equal(again.pixels, digits.pixels)
    assert again.labels == digits.labels
    assert again.tags == digits.tags
    other = synthesize_font_digits(params.model_copy(update={"seed": 4}))
    assert not np.array_equal(other.pixels, digits.pixels)


def test_labels_and_fonts_balanced(digits: SynthesizedDigits) -> None:
    assert Counter(digits.labels) == {str(d): 20 for d in range(10)}
    fonts = Counter(tags[0] for tags in digits.tags)
    assert fonts == {"font=DejaVuSans": 100, "font=cmr10": 100}
    assert digits.labels[:10] != [str(d) for d in range(10)]  # shuffled, not cycled


def test_tags_record_font_and_each_distortion(digits: SynthesizedDigits) -> None:
    assert len(digits.tags) == len(digits.labels) == len(digits.pixels)
    for tags in digits.tags:
        values = dict(tag.split("=", 1) for tag in tags)
        assert list(values) == ["font", "size", "offset", "rotation", "stroke"]
        assert 22 <= int(values["size"]) <= 30
        dx, dy = (int(v) for v in values["offset"].split(","))
        assert -2 <= dx <= 2 and -2 <= dy <= 2
        assert -10.0 <= float(values["rotation"]) <= 10.0
        assert 0 <= int(values["stroke"]) <= 2
    rotations = {dict(t.split("=", 1) for t in tags)["rotation"] for tags in digits.tags}
    assert len(rotations) > 20  # drawn, not constant


def test_fixed_distortions_are_tagged_exactly() -> None:
    params = printed_fonts(
        fonts=["DejaVuSans.ttf"],
        count=10,
        font_size=(26, 26),
        offset=(1, 1),
        rotation_degrees=(-7.5, -7.5),
        stroke_width=(1, 1),
    )
    tags = synthesize_font_digits(params).tags
    assert tags[0] == ["font=DejaVuSans", "size=26", "offset=1,1", "rotation=-7.5", "stroke=1"]


# ----------------------------------------------------------------- rendering


@pytest.mark.parametrize("digit", list("0123456789"))
def test_undistorted_glyph_is_centred_and_sized(digit: str) -> None:
    bitmap = render_digit(digit, SANS, 26, (0, 0), 0.0, 1, 32, 128)
    assert bitmap.shape == (32, 32) and bitmap.dtype == bool
    top, bottom, left, right = _ink_box(bitmap)
    assert abs((top + bottom) / 2 - 15.5) <= 0.5
    assert abs((left + right) / 2 - 15.5) <= 0.5
    assert 24 <= max(bottom - top, right - left) + 1 <= 26  # larger side ~ size


def test_upright_one_is_tall_and_rotation_turns_it() -> None:
    upright = render_digit("1", SANS, 26, (0, 0), 0.0, 0, 32, 128)
    top, bottom, left, right = _ink_box(upright)
    assert bottom - top > 1.5 * (right - left)
    turned = render_digit("1", SANS, 26, (0, 0), 90.0, 0, 32, 128)
    top, bottom, left, right = _ink_box(turned)
    assert right - left > 1.5 * (bottom - top)


def test_offset_shifts_ink_right_and_down() -> None:
    centred = render_digit("8", SANS, 24, (0, 0), 0.0, 0, 32, 128)
    shifted = render_digit("8", SANS, 24, (2, -2), 0.0, 0, 32, 128)
    np.testing.assert_array_equal(np.roll(centred, (-2, 2), axis=(0, 1)), shifted)


def test_stroke_adds_ink() -> None:
    thin = render_digit("3", SANS, 26, (0, 0), 0.0, 0, 32, 128).sum()
    thick = render_digit("3", SANS, 26, (0, 0), 0.0, 2, 32, 128).sum()
    assert thick > 1.3 * thin


# ----------------------------------------------------------------- fonts


def test_digit_capable_fonts_are_sorted_and_exclude_symbol_fonts() -> None:
    fonts = digit_capable_fonts()
    assert fonts == sorted(fonts)
    assert {"DejaVuSans.ttf", "cmr10.ttf", "STIXGeneral.ttf"} <= set(fonts)
    assert not {"cmex10.ttf", "cmsy10.ttf", "LastResortHE-Regular.ttf"} & set(fonts)
    assert not any(name.startswith(("STIXSiz", "STIXNonUni")) for name in fonts)


def test_resolve_bundled_and_absolute() -> None:
    assert resolve_fonts(["DejaVuSans.ttf", str(SANS)]) == [SANS, SANS]


def test_unknown_font_names_param_and_entry() -> None:
    with pytest.raises(ValueError, match=r"synthesize\.fonts") as info:
        resolve_fonts(["DejaVuSans.ttf", "NoSuchFont.ttf"])
    message = str(info.value)
    assert "'NoSuchFont.ttf'" in message
    assert "DejaVuSans.ttf" in message  # lists usable fonts


def test_unknown_font_suggests_near_match() -> None:
    with pytest.raises(ValueError, match=r"did you mean 'DejaVuSans\.ttf'"):
        resolve_fonts(["DejavuSans.ttf"])


@pytest.mark.parametrize(
    "name", ["cmex10.ttf", "STIXSizOneSymReg.ttf", "LastResortHE-Regular.ttf", "cmsy10.ttf"]
)
def test_symbol_fonts_rejected(name: str) -> None:
    with pytest.raises(ValueError, match=r"synthesize\.fonts.*ten digits") as info:
        resolve_fonts([name])
    assert repr(name) in str(info.value)


def test_non_font_file_rejected(tmp_path: Path) -> None:
    fake = tmp_path / "fake.ttf"
    fake.write_bytes(b"not a font")
    with pytest.raises(ValueError, match="could not be read"):
        resolve_fonts([str(fake)])


def test_synthesize_rejects_bad_font_before_rendering() -> None:
    with pytest.raises(ValueError, match=r"synthesize\.fonts"):
        synthesize_font_digits(printed_fonts(fonts=["missing.ttf"], count=5))
