"""The overlay recipe: clean foregrounds on noise-source backgrounds, then the camera models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from traindev.config import OverlayParams, ParamsError, SynthesizeParams
from traindev.data.store import content_ids, read_store, write_store
from traindev.data.synthesis.camera import (
    degrade,
    gaussian_blur,
    gaussian_noise,
    jpeg,
    low_light,
    shot_noise,
)
from traindev.data.synthesis.overlay import OverlayInputError, composite, synthesize_overlay

SIDE = 8


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8)).save(path)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """Foregrounds: a white bar per class on black. Backgrounds: two flat greys, one nested."""
    foregrounds = tmp_path / "clean"
    for label, column in (("a", 2), ("b", 5)):
        for k in range(3):
            image = np.zeros((SIDE, SIDE), dtype=np.uint8)
            image[1:7, column + k % 2] = 255
            _png(foregrounds / label / f"{k}.png", image)
    backgrounds = tmp_path / "noise"
    _png(backgrounds / "grey.png", np.full((12, 20), 100))
    _png(backgrounds / "night" / "dark.png", np.full((6, 6), 40))
    return foregrounds, backgrounds


def _params(foregrounds: Path, backgrounds: Path, count: int = 24, **overlay) -> SynthesizeParams:
    settings = {
        "foregrounds": str(foregrounds),
        "backgrounds": str(backgrounds),
        "image_size": (SIDE, SIDE),
        "channels": 1,
        "background_weight": (0.5, 0.5),
        **overlay,
    }
    return SynthesizeParams(
        fonts=["DejaVuSans.ttf"], source="overlay", count=count, overlay=settings
    )


def _tag(tags: list[str], key: str) -> str:
    return dict(tag.split("=", 1) for tag in tags)[key]


# ----------------------------------------------------------------- compositing


def test_ink_stays_on_top_and_background_shows_through_at_its_weight(folders) -> None:
    made = synthesize_overlay(_params(*folders))
    assert made.pixels.shape == (24, SIDE, SIDE, 1) and made.pixel_max == 255
    assert made.classes == ["a", "b"]
    for image, label, tags in zip(made.pixels[..., 0], made.labels, made.tags, strict=True):
        grey = 100 if _tag(tags, "background") == "grey.png" else 40
        column = image[4]
        ink = column == 255
        assert 1 <= ink.sum() <= 2  # the bar, untouched
        assert (np.nonzero(ink)[0] < 4).all() == (label == "a")
        assert set(column[~ink]) == {round(0.5 * grey)}  # black surround -> half the grey


def test_backgrounds_come_from_the_folder_and_are_used_evenly(folders) -> None:
    made = synthesize_overlay(_params(*folders))
    used = pd.Series([_tag(tags, "background") for tags in made.tags]).value_counts()
    assert used.to_dict() == {"grey.png": 12, "night/dark.png": 12}
    foregrounds = {_tag(tags, "foreground") for tags in made.tags}
    assert foregrounds == {f"{label}/{k}.png" for label in "ab" for k in range(3)}


def test_mix_blend_is_a_weighted_sum() -> None:
    foreground = np.full((2, 2, 1), 1.0, dtype=np.float32)
    background = np.zeros((2, 2, 1), dtype=np.float32)
    assert np.allclose(composite(foreground, background, 0.3, "mix"), 0.7)
    assert np.allclose(composite(foreground, background, 0.3, "mask"), 1.0)  # opaque ink


def test_same_seed_identical(folders) -> None:
    params = _params(*folders, blur={"p": 0.5}, gaussian_noise={"p": 0.5})
    first, second = synthesize_overlay(params), synthesize_overlay(params)
    np.testing.assert_array_equal(first.pixels, second.pixels)
    assert first.tags == second.tags


def test_store_foregrounds_take_only_the_named_domains(tmp_path: Path, folders) -> None:
    pixels = np.zeros((4, SIDE, SIDE, 1), dtype=np.uint8)
    pixels[:, 2:6, 3] = [[[16]], [[8]], [[16]], [[4]]]
    manifest = pd.DataFrame(
        {
            "id": content_ids(pixels),
            "source": "x",
            "domain": ["studio", "studio", "phone", "phone"],
            "label": ["0", "1", "0", "1"],
            "origin": "real",
            "tags": [[] for _ in range(4)],
        }
    )
    write_store(tmp_path / "ingested", manifest, pixels, ["0", "1"], 16)
    params = _params(tmp_path / "ingested", folders[1], count=6)
    with pytest.raises(ParamsError, match=r"foreground_domains.*studio.*target domain"):
        synthesize_overlay(params)
    overlay = params.overlay.model_copy(update={"foreground_domains": ["studio"]})
    made = synthesize_overlay(params.model_copy(update={"overlay": overlay}))
    assert made.pixel_max == 16 and made.pixels.shape == (6, SIDE, SIDE, 1)
    studio = set(manifest.loc[manifest["domain"] == "studio", "id"])
    assert {_tag(tags, "foreground") for tags in made.tags} == studio


def test_missing_backgrounds_name_the_param(folders, tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match=r"synthesize\.overlay\.backgrounds: no images"):
        synthesize_overlay(_params(folders[0], tmp_path / "nowhere"))


def test_unreadable_background_names_the_file(folders) -> None:
    (folders[1] / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(OverlayInputError, match=r"broken\.jpg"):
        synthesize_overlay(_params(*folders))


# ----------------------------------------------------------------- camera models


@pytest.fixture
def ramp() -> np.ndarray:
    return np.linspace(0.0, 1.0, 16 * 16, dtype=np.float32).reshape(16, 16, 1)


def test_low_light_is_gain_times_power(ramp) -> None:
    np.testing.assert_allclose(low_light(ramp, 0.5, 2.0), 0.5 * ramp**2, rtol=1e-6)


def test_blur_smooths_an_edge(ramp) -> None:
    edge = (ramp > 0.5).astype(np.float32)
    blurred = gaussian_blur(edge, 1.0)
    assert blurred.shape == edge.shape
    assert 0 < blurred[8, 0, 0] < 1  # the step became a slope
    assert np.isclose(blurred.mean(), edge.mean(), atol=0.02)


def test_gaussian_noise_has_the_declared_sigma() -> None:
    flat = np.full((64, 64, 1), 0.5, dtype=np.float32)
    noisy = gaussian_noise(flat, 0.05, np.random.default_rng(0))
    assert abs(noisy.std() - 0.05) < 0.005


def test_fewer_photons_are_noisier() -> None:
    flat = np.full((64, 64, 1), 0.5, dtype=np.float32)
    rng = np.random.default_rng(0)
    dim, bright = shot_noise(flat, 20, rng), shot_noise(flat, 2000, rng)
    assert abs(dim.std() - np.sqrt(0.5 / 20)) < 0.02  # Poisson: variance = mean / photons
    assert bright.std() < dim.std() / 5


def test_lower_jpeg_quality_loses_more(ramp) -> None:
    noisy = gaussian_noise(ramp, 0.2, np.random.default_rng(1))
    low, high = jpeg(noisy, 5), jpeg(noisy, 95)
    assert np.abs(low - noisy).mean() > 2 * np.abs(high - noisy).mean() > 0


def test_degrade_applies_each_step_with_its_probability_and_tags_values_in_range(ramp) -> None:
    on = OverlayParams(
        low_light={"p": 1, "gain": (0.4, 0.6), "gamma": (1.5, 2.0)},
        blur={"p": 1, "sigma": (0.8, 1.2)},
        gaussian_noise={"p": 1, "sigma": (0.02, 0.04)},
        shot_noise={"p": 1, "photons": (50, 100)},
        jpeg={"p": 1, "quality": (30, 40)},
    )
    image, tags = degrade(ramp, on, np.random.default_rng(0))
    values = dict(tag.split("=", 1) for tag in tags)
    assert list(values) == ["gain", "gamma", "blur", "read_noise", "photons", "jpeg"]
    assert 0.4 <= float(values["gain"]) <= 0.6 and 1.5 <= float(values["gamma"]) <= 2.0
    assert 0.8 <= float(values["blur"]) <= 1.2 and 30 <= int(values["jpeg"]) <= 40
    assert 0.02 <= float(values["read_noise"]) <= 0.04 and 50 <= float(values["photons"]) <= 100
    assert image.max() <= 0.6 + 0.2  # dimmed (plus noise)
    untouched, none = degrade(ramp, OverlayParams(), np.random.default_rng(0))
    np.testing.assert_array_equal(untouched, ramp)
    assert none == []


def test_overlay_stage_writes_a_store_the_split_can_combine(folders, tmp_path, monkeypatch):
    from traindev.stages import synthesize

    monkeypatch.chdir(tmp_path)
    message = synthesize.run(_params(*folders, count=10))
    store = read_store(tmp_path / "data/synthesized")
    assert store.pixels.shape == (10, SIDE, SIDE, 1) and store.pixel_max == 255
    assert set(store.manifest["source"]) == {"overlay"}
    assert "2 backgrounds (effective 2.0)" in message
    assert "WARNING narrow pool" in message  # two backgrounds are a narrow pool


def test_colour_output_takes_the_background_colour(folders) -> None:
    foregrounds, backgrounds = folders
    _png(
        backgrounds / "red.png",
        np.dstack([np.full((9, 9), 200), np.zeros((9, 9)), np.zeros((9, 9))]),
    )
    made = synthesize_overlay(_params(foregrounds, backgrounds, count=6, channels=3))
    assert made.pixels.shape == (6, SIDE, SIDE, 3)
    red = [i for i, tags in enumerate(made.tags) if _tag(tags, "background") == "red.png"]
    corner = made.pixels[red[0], 0, 0]  # black surround: half of the background's red
    assert tuple(corner) == (100, 0, 0)


def test_overlaying_the_target_domain_is_a_params_error(default_params):
    from traindev.params_file import validate_params

    default_params["synthesize"].update(source="overlay")
    default_params["synthesize"]["overlay"]["foreground_domains"] = ["handwritten"]
    with pytest.raises(ParamsError, match=r"foreground_domains lists the target domain"):
        validate_params(default_params)
    default_params["synthesize"]["overlay"]["foreground_domains"] = ["web"]
    validate_params(default_params)
