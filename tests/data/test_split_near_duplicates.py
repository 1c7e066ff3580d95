"""Near-duplicates across splits: the pHash, the banded search, and the split stage's drop."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.fft import dct

from traindev.config import SplitParams
from traindev.data.near_duplicates import nearest_matches, perceptual_hashes
from traindev.data.store import read_store, write_store
from traindev.stages import split


def textured(seed: int, size: int = 16) -> np.ndarray:
    """An RGB image with photo-like texture: random 8x8 colours, bicubic-upsampled."""
    low = np.random.default_rng(seed).uniform(0, 255, size=(8, 8, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(low).resize((size, size), Image.BICUBIC))


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.bitwise_count(a[:, None] ^ b[None, :]).astype(int)


def test_the_hash_is_the_phash_of_the_area_resized_grey_image():
    """64x64 -> 32x32 is a 2x2 mean; then the 2-D DCT-II, its 8x8 corner, above its median."""
    images = np.random.default_rng(0).uniform(0, 255, size=(12, 64, 64, 1)).astype(np.uint8)
    grey = images[..., 0].astype(np.float64).reshape(12, 32, 2, 32, 2).mean(axis=(2, 4))
    low = dct(dct(grey, axis=1), axis=2)[:, :8, :8].reshape(12, 64)
    bits = low > np.median(low, axis=1, keepdims=True)
    expected = np.packbits(bits, axis=1).view(">u8").ravel()
    assert (perceptual_hashes(images) == expected).all()


def test_near_copies_hash_close_and_different_images_far():
    base = np.stack([textured(seed) for seed in range(40)])
    brighter = np.round(base * 0.8 + 20).astype(np.uint8)
    noisy = np.clip(base + np.random.default_rng(1).integers(-6, 7, base.shape), 0, 255)
    hashes = perceptual_hashes(base)
    for copy in (brighter, noisy.astype(np.uint8)):
        assert np.bitwise_count(hashes ^ perceptual_hashes(copy)).max() <= 4
    apart = distances(hashes, hashes)[~np.eye(len(base), dtype=bool)]
    assert apart.min() > 8


@pytest.mark.parametrize("max_distance", [0, 2, 4, 7])
def test_the_banded_search_finds_what_all_pairs_find(max_distance):
    rng = np.random.default_rng(max_distance)
    targets = rng.integers(0, 2**63, size=300, dtype=np.uint64) * np.uint64(2)
    hashes = rng.integers(0, 2**63, size=2000, dtype=np.uint64)
    for index in range(200):  # planted near copies with 0..8 flipped bits
        flips = rng.choice(64, size=index % 9, replace=False)
        hashes[index * 7] = targets[index] ^ np.uint64(sum(1 << int(bit) for bit in flips))
    hashes[1] = targets[5]
    targets[9] = targets[5]  # a repeated target: the nearest is the earliest

    positions, nearest, distance = nearest_matches(hashes, targets, max_distance)

    table = distances(hashes, targets)
    expected = np.flatnonzero(table.min(axis=1) <= max_distance)
    assert positions.tolist() == expected.tolist() and len(expected) > 20
    assert distance.tolist() == table.min(axis=1)[expected].tolist()
    assert nearest.tolist() == table.argmin(axis=1)[expected].tolist()  # argmin: the first


def test_no_match_gives_empty_results():
    hashes = np.array([0, 2**64 - 1], dtype=np.uint64)
    positions, nearest, distance = nearest_matches(hashes, np.array([2**32 - 1], np.uint64), 3)
    assert len(positions) == len(nearest) == len(distance) == 0


def write_domains(root, images: dict[str, tuple[np.ndarray, list[str]]]) -> None:
    """One store per domain under root/<domain> (ids made from the pixels' position)."""
    for domain, (pixels, labels) in images.items():
        manifest = pd.DataFrame(
            {
                "id": [f"{domain}{index:05d}" for index in range(len(pixels))],
                "source": domain,
                "domain": domain,
                "label": labels,
                "origin": "real",
                "tags": [[] for _ in labels],
            }
        )
        write_store(root / domain, manifest, pixels, ["a", "b"], 255)


def test_the_split_stage_drops_train_near_copies_of_dev_and_test_images(tmp_path, monkeypatch):
    target = np.stack([textured(seed) for seed in range(60)])
    web = np.stack([textured(seed) for seed in range(1000, 1080)])
    web[:20] = np.round(target[:20] * 0.8 + 20)  # near copies of the first 20 target images
    write_domains(
        tmp_path,
        {"phone": (target, ["a", "b"] * 30), "web": (web, ["a", "b"] * 40)},
    )
    monkeypatch.chdir(tmp_path)
    params = SplitParams(
        target_domain="phone",
        dev=0.4,
        test=0.4,
        train_dev=0.1,
        near_duplicates={"enabled": True, "max_distance": 4},
    )
    message = split.split_stores(params, sources=(tmp_path / "phone", tmp_path / "web"))

    near = pd.read_csv(tmp_path / "reports/split/near_duplicates.csv")
    store = read_store(tmp_path / "data/split")
    manifest = store.manifest
    copied_into_eval = manifest.loc[manifest["split"].isin(["dev", "test"]), "id"]
    copied = {f"web{int(row[5:]):05d}" for row in copied_into_eval if int(row[5:]) < 20}
    assert copied and copied <= set(near["id"])  # every near copy of a dev/test image found
    assert set(near["near_split"]) <= {"dev", "test"} and (near["distance"] <= 4).all()
    assert not set(near["id"]) & set(manifest["id"])  # and gone from the split store
    hashes = perceptual_hashes(store.pixels)
    train = hashes[(manifest["split"] == "train").to_numpy()]
    evaluation = hashes[manifest["split"].isin(["dev", "test"]).to_numpy()]
    assert distances(train, evaluation).min() > 4  # none within the threshold remains
    summary = json.loads((tmp_path / "reports/split/summary.json").read_text())
    assert summary["near_duplicates"] == {"enabled": True, "max_distance": 4, "dropped": len(near)}
    assert f"{len(near)} near-duplicates of dev/test images dropped from train" in message
