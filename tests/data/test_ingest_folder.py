"""Image-folder ingest: `<root>/<domain>/<class>/<file>` decoded once into the pixel store."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.ingest_inputs import distinct_image, folder_params, make_folder, run_ingest, save
from PIL import Image

from traindev.data.store import read_store


def test_folder_of_every_format_becomes_a_store_in_sorted_order(tmp_path):
    root = tmp_path / "photos"
    grey = distinct_image(1, (8, 8))
    colour = distinct_image(2)
    save(root / "web" / "cat" / "a.png", colour)
    save(root / "web" / "cat" / "b.bmp", grey)
    save(root / "web" / "dog" / "c.tiff", colour)
    save(root / "web" / "dog" / "sub" / "d.webp", colour, lossless=True)
    save(root / "phone" / "cat" / "e.jpg", colour, quality=95)
    save(root / "phone" / "dog" / "f.png", grey)

    message = run_ingest(tmp_path, folder_params(root))

    store = read_store(tmp_path / "ingested")
    manifest = store.manifest
    assert manifest["meta.path"].tolist() == [
        "phone/cat/e.jpg",
        "phone/dog/f.png",
        "web/cat/a.png",
        "web/cat/b.bmp",
        "web/dog/c.tiff",
        "web/dog/sub/d.webp",
    ]
    assert manifest["domain"].tolist() == ["phone"] * 2 + ["web"] * 4
    assert manifest["label"].tolist() == ["cat", "dog", "cat", "cat", "dog", "dog"]
    assert set(manifest["source"]) == {"folder:photos"} and set(manifest["origin"]) == {"real"}
    assert store.classes == ["cat", "dog"] and store.pixel_max == 255
    assert store.pixels.shape == (6, 8, 8, 3)
    np.testing.assert_array_equal(store.pixels[2], colour)  # lossless formats are exact
    np.testing.assert_array_equal(store.pixels[5], colour)
    np.testing.assert_array_equal(store.pixels[3], np.repeat(grey[..., None], 3, axis=2))
    assert "6 images (phone 2, web 4)" in message
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["images"] == 6 and summary["skipped"] == 0
    assert summary["domains"] == {"phone": 2, "web": 4}


def test_class_names_sort_naturally_unless_listed(tmp_path):
    root = make_folder(tmp_path / "digits", {"d": {"10": 1, "2": 1, "1": 1}})
    run_ingest(tmp_path, folder_params(root))
    assert read_store(tmp_path / "ingested").classes == ["1", "2", "10"]
    run_ingest(tmp_path, folder_params(root, classes=["10", "2", "1"]))
    assert read_store(tmp_path / "ingested").classes == ["10", "2", "1"]


def test_grey_output_is_the_luma_of_colour_input(tmp_path):
    root = tmp_path / "f"
    colour = distinct_image(3)
    save(root / "d" / "a" / "x.png", colour)
    save(root / "d" / "b" / "y.png", colour[..., 0])
    run_ingest(tmp_path, folder_params(root, channels=1))
    pixels = read_store(tmp_path / "ingested").pixels
    assert pixels.shape == (2, 8, 8, 1)
    np.testing.assert_array_equal(
        pixels[0, ..., 0], np.asarray(Image.fromarray(colour).convert("L"))
    )


def _red_left_blue_right() -> np.ndarray:
    image = np.zeros((8, 16, 3), np.uint8)  # height 8, width 16
    image[:, :8, 0] = 255
    image[:, 8:, 2] = 255
    return image


@pytest.mark.parametrize("resize", ["stretch", "letterbox", "centre_crop"])
def test_resize_policy(tmp_path, resize):
    root = tmp_path / "f"
    save(root / "d" / "a" / "wide.png", _red_left_blue_right())
    save(root / "d" / "b" / "other.png", distinct_image(4))
    run_ingest(tmp_path, folder_params(root, resize=resize))
    image = read_store(tmp_path / "ingested").pixels[0].astype(int)
    red, blue = image[..., 0], image[..., 2]
    if resize == "stretch":  # squeezed sideways: left half red, right half blue, all rows
        assert (red[:, :3] == 255).all() and (blue[:, 5:] == 255).all()
    elif resize == "letterbox":  # whole image kept at 8x4, black bands above and below
        assert image[:2].max() == 0 and image[6:].max() == 0
        assert (red[3:5, :3] == 255).all() and (blue[3:5, 5:] == 255).all()
    else:  # the central 8 columns, full height
        assert (red[:, :3] == 255).all() and (blue[:, 5:] == 255).all()
        assert (red[:, :4] > 200).all() and (blue[:, 4:] > 200).all()


def test_exif_orientation_is_applied(tmp_path):
    root = tmp_path / "f"
    image = np.zeros((4, 8), np.uint8)
    image[:, :4] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turns it 90 degrees clockwise
    save(root / "d" / "a" / "turned.png", image, exif=exif.tobytes())
    save(root / "d" / "b" / "other.png", np.zeros((8, 4), np.uint8) + 7)
    run_ingest(tmp_path, folder_params(root, image_size=(8, 4), channels=1, resize="stretch"))
    upright = read_store(tmp_path / "ingested").pixels[0, ..., 0]
    assert (upright[:4] == 255).all() and (upright[4:] == 0).all()  # left became top


def test_palette_alpha_16_bit_and_1_bit_images_become_8_bit(tmp_path):
    root = tmp_path / "f"
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:4, :, 3] = 255  # top opaque red, bottom fully transparent
    save(root / "d" / "a" / "alpha.png", rgba)
    deep = np.full((8, 8), 257 * 100, np.uint16)
    deep[0, 0] = 65535
    save(root / "d" / "a" / "deep.png", deep)
    palette = Image.fromarray(distinct_image(5)).convert("P", palette=Image.Palette.ADAPTIVE)
    (root / "d" / "b").mkdir(parents=True)
    palette.save(root / "d" / "b" / "palette.png", transparency=0)
    Image.fromarray(np.eye(8, dtype=bool)).save(root / "d" / "b" / "bits.bmp")
    run_ingest(tmp_path, folder_params(root))
    store = read_store(tmp_path / "ingested")
    by_path = dict(zip(store.manifest["meta.path"], store.pixels, strict=True))
    alpha = by_path["d/a/alpha.png"]
    assert (alpha[:4, :, 0] == 200).all() and alpha[4:].max() == 0  # composited onto black
    grey16 = by_path["d/a/deep.png"][..., 0]
    assert grey16[0, 0] == 255 and (grey16.ravel()[1:] == 100).all()
    np.testing.assert_array_equal(by_path["d/b/bits.bmp"][..., 0], np.eye(8) * 255)
    assert by_path["d/b/palette.png"].shape == (8, 8, 3)


def test_two_processes_write_the_same_store_as_one(tmp_path):
    root = make_folder(tmp_path / "f", {"a": {"x": 7, "y": 6}, "b": {"x": 5, "y": 4}})
    run_ingest(tmp_path / "one", folder_params(root, workers=1))
    message = run_ingest(tmp_path / "two", folder_params(root, workers=2))
    one, two = read_store(tmp_path / "one" / "ingested"), read_store(tmp_path / "two" / "ingested")
    assert "with 2 process(es)" in message
    np.testing.assert_array_equal(one.pixels, two.pixels)
    assert one.manifest.equals(two.manifest)
    assert (tmp_path / "one" / "ingested" / "manifest.parquet").read_bytes() == (
        tmp_path / "two" / "ingested" / "manifest.parquet"
    ).read_bytes()
