"""Pixel measures behind the sheet's pre-ticked columns (dark, blurry, off-centre, ...)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers.shifted_domains import SOURCE, TARGET, blurred_target_store
from scipy import ndimage

from traindev.analysis.properties import (
    FLAG_NAMES,
    MEASURES,
    measure_images,
    property_flags,
    property_shift,
)


def blob(centre: tuple[int, int], size: int = 16, radius: int = 2, value: int = 16) -> np.ndarray:
    """A (size, size, 1) square of ink around `centre` on black."""
    image = np.zeros((size, size, 1), np.uint8)
    y, x = centre
    image[max(0, y - radius) : y + radius, max(0, x - radius) : x + radius] = value
    return image


def test_simple_images_have_the_expected_measures():
    full = np.full((1, 8, 8, 1), 16, np.uint8)
    blank = np.zeros((1, 8, 8, 1), np.uint8)
    half = np.full((1, 8, 8, 1), 8, np.uint8)
    measures = measure_images(np.concatenate([full, blank, half]), pixel_max=16)
    assert list(measures.columns) == list(MEASURES)
    assert measures["brightness"].tolist() == pytest.approx([1.0, 0.0, 0.5])
    assert measures["contrast"].tolist() == pytest.approx([0.0, 0.0, 0.0])
    assert measures["sharpness"].tolist() == pytest.approx([0.0, 0.0, 0.0])
    assert measures["ink_area"].tolist() == pytest.approx([1.0, 0.0, 0.0])  # 0.5 is not above
    assert measures["centre_offset"].tolist() == pytest.approx([0.0, 0.0, 0.0])


def test_pixel_max_sets_the_scale_and_colour_reads_as_luma():
    digits = np.full((1, 8, 8, 1), 8, np.uint8)  # half ink on the 0..16 scale
    red = np.zeros((1, 4, 4, 3), np.uint8)
    red[..., 0] = 255
    assert measure_images(digits, 16)["brightness"].item() == pytest.approx(0.5)
    assert measure_images(red, 255)["brightness"].item() == pytest.approx(0.299)


def test_a_dark_image_is_flagged_dark():
    rng = np.random.default_rng(0)
    reference_pixels = rng.integers(100, 200, (30, 8, 8, 1), dtype=np.uint8)
    dark = np.full((1, 8, 8, 1), 10, np.uint8)
    ordinary = np.full((1, 8, 8, 1), 150, np.uint8)
    reference = measure_images(reference_pixels, 255)
    result = property_flags(measure_images(np.concatenate([dark, ordinary]), 255), reference, 0.1)
    assert result.flags["dark"].tolist() == [True, False]


def test_a_corner_blob_is_off_centre_and_a_centred_one_is_not():
    centred, corner = blob((8, 8)), blob((2, 2))
    jittered = [blob((8 + dy, 8 + dx)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    reference = measure_images(np.stack([*jittered, *jittered, corner]), 16)
    measures = measure_images(np.stack([centred, corner]), 16)
    # Ink over rows/cols 6..9 has its centroid at 7.5, the centre of a 16x16 image; the
    # corner blob's at 1.5 sits 6 / 7.5 of the way to the corner pixel.
    assert measures["centre_offset"].iloc[0] == pytest.approx(0.0)
    assert measures["centre_offset"].iloc[1] == pytest.approx(0.8)
    flags = property_flags(measures, reference, 0.1).flags
    assert flags["off_centre"].tolist() == [False, True]


def test_blurring_lowers_sharpness_and_flags_blurry():
    sharp = blob((8, 8), radius=4, value=255)
    blurred = ndimage.gaussian_filter(sharp.astype(float), sigma=(1.5, 1.5, 0)).round()
    images = np.stack([sharp, blurred.astype(np.uint8)])
    measures = measure_images(images, 255)
    assert measures["sharpness"].iloc[1] < measures["sharpness"].iloc[0] / 2
    reference = measure_images(np.stack([sharp] * 9 + [blurred.astype(np.uint8)]), 255)
    assert property_flags(measures, reference, 0.2).flags["blurry"].tolist() == [False, True]


def test_each_flag_marks_at_most_about_the_quantile_of_the_reference():
    rng = np.random.default_rng(1)
    measures = measure_images(rng.integers(0, 17, (500, 8, 8, 1), dtype=np.uint8), 16)
    result = property_flags(measures, measures, 0.1)
    assert list(result.flags.columns) == list(FLAG_NAMES)
    assert all(pd.api.types.is_bool_dtype(dtype) for dtype in result.flags.dtypes)
    share = result.flags.mean()
    assert (share <= 0.1 + 1 / 500).all(), share
    assert (share >= 0.05).all(), share  # continuous measures: hardly any ties
    payload = json.loads(json.dumps(result.as_dict()))
    assert payload["quantile"] == 0.1
    assert set(payload["thresholds"]) == set(FLAG_NAMES)
    assert payload["thresholds"]["dark"]["direction"] == "below"
    assert payload["thresholds"]["off_centre"]["direction"] == "above"


def test_chunks_and_memmaps_give_the_same_measures(tmp_path):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (50, 6, 5, 3), dtype=np.uint8)
    np.save(tmp_path / "pixels.npy", pixels)
    mapped = np.load(tmp_path / "pixels.npy", mmap_mode="r")
    whole = measure_images(pixels, 255)
    pd.testing.assert_frame_equal(measure_images(mapped, 255, chunk_images=7), whole)
    assert measure_images(pixels[:0], 255).shape == (0, len(MEASURES))


def test_a_quantile_outside_the_tail_names_the_param():
    measures = measure_images(np.zeros((2, 4, 4, 1), np.uint8), 16)
    with pytest.raises(ValueError, match="property_quantile"):
        property_flags(measures, measures, 0.5)


def test_a_blur_the_whole_target_shares_is_flagged_against_training_not_within_dev():
    """Issue 19 item 5: within dev, "blurry" marks the worst tenth of an all-blurred target,
    so the blur never shows; against the crisp training domain it marks all of dev."""
    store = blurred_target_store()
    manifest = store.manifest
    train = manifest["split"].to_numpy() == "train"
    dev = manifest["split"].to_numpy() == "dev"
    train_measures = measure_images(store.pixels[train], store.pixel_max)
    dev_measures = measure_images(store.pixels[dev], store.pixel_max)
    domains = manifest["domain"].to_numpy()[train]

    within_dev = property_flags(dev_measures, dev_measures, 0.1).flags["blurry"]
    assert within_dev.mean() <= 0.1
    against_crisp = property_flags(dev_measures, train_measures[domains == SOURCE], 0.1).flags[
        "blurry"
    ]
    assert against_crisp.all()

    references = {
        reference: train_measures[domains == reference].reset_index(drop=True)
        for reference in (SOURCE, TARGET)
    }
    shifts = {(s.flag, s.reference): s for s in property_shift(dev_measures, references, 0.1)}
    assert shifts[("blurry", SOURCE)].shifted and shifts[("blurry", SOURCE)].dev_share == 1.0
    assert not shifts[("blurry", TARGET)].shifted  # the target's own training rows: no shift
    assert not any(s.shifted for s in shifts.values() if s.reference == TARGET)
    assert not shifts[("off_centre", SOURCE)].shifted  # blur does not move the ink
    assert shifts[("blurry", SOURCE)].rule.startswith("sharpness < ")


def test_a_small_excess_over_the_quantile_is_not_called_a_shift():
    """A shift must be clear and large: 13% of 100 dev images beyond a 10% tail is neither."""
    reference = pd.DataFrame({name: np.linspace(0, 1, 1000) for name in MEASURES})
    dev = pd.DataFrame({name: np.linspace(0.0, 1.0, 100) for name in MEASURES})
    dev.loc[:12, "sharpness"] = 0.0  # 13 images below the reference's 10% quantile
    shift = {s.flag: s for s in property_shift(dev, {"all training": reference}, 0.1)}
    assert shift["blurry"].dev_share == pytest.approx(0.13) and not shift["blurry"].shifted
    dev.loc[:39, "sharpness"] = 0.0  # 40 of 100: clearly and substantially more
    shift = {s.flag: s for s in property_shift(dev, {"all training": reference}, 0.1)}
    assert shift["blurry"].shifted
