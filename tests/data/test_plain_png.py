"""Plain PNGs through OpenCV: the same pixels PIL gives, and PIL for everything else."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from traindev.data.sources import decode
from traindev.data.sources.decode import BadImage, DecodeSpec, decode_image
from traindev.data.sources.plain_png import decode_plain_png


def png(image: Image.Image, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save)
    return buffer.getvalue()


def pixels(mode: str, size: tuple[int, int] = (20, 14)) -> Image.Image:
    rng = np.random.default_rng(0)
    channels = {"L": (), "RGB": (3,), "RGBA": (4,)}[mode]
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], *channels), np.uint8), mode)


@pytest.mark.parametrize(
    ("mode", "spec"),
    [
        ("L", DecodeSpec(14, 20, 1, "stretch")),
        ("L", DecodeSpec(14, 20, 3, "stretch")),
        ("RGB", DecodeSpec(14, 20, 3, "stretch")),
        ("RGB", DecodeSpec(8, 8, 3, "letterbox")),  # resized after decoding, as PIL's are
        ("L", DecodeSpec(10, 6, 1, "centre_crop")),
    ],
)
def test_plain_pngs_decode_to_the_pixels_pil_gives(tmp_path, monkeypatch, mode, spec):
    path = tmp_path / "image.png"
    path.write_bytes(png(pixels(mode)))
    assert decode_plain_png(path.read_bytes(), spec.channels) is not None  # the fast path
    fast = decode_image(str(path), spec)
    monkeypatch.setattr(decode, "decode_plain_png", lambda data, channels: None)
    assert np.array_equal(fast, decode_image(str(path), spec))
    assert fast.shape == spec.shape and fast.dtype == np.uint8


@pytest.mark.parametrize(
    ("image", "channels"),
    [
        (pixels("RGB"), 1),  # colour to grey: PIL's luma rounding
        (pixels("RGBA"), 3),  # alpha composited onto black
        (pixels("RGB").quantize(16), 3),  # a palette
        (Image.fromarray(np.full((6, 6), 40000, np.uint16)), 1),  # 16-bit
    ],
)
def test_pngs_that_need_converting_are_left_to_pil(image, channels):
    assert decode_plain_png(png(image), channels) is None


def test_a_png_that_may_carry_an_orientation_is_left_to_pil():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    assert decode_plain_png(png(pixels("RGB"), exif=exif.tobytes()), 3) is None
    assert decode_plain_png(png(pixels("RGB")), 3) is not None


def test_a_truncated_png_is_reported_by_pil(tmp_path):
    data = png(pixels("RGB", (64, 64)))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    assert decode_plain_png(path.read_bytes(), 3) is None
    with pytest.raises(BadImage, match=r"truncated|broken|unreadable"):
        decode_image(str(path), DecodeSpec(64, 64, 3, "stretch"))
