"""Camera degradations for synthesized images: low light, blur, sensor noise, JPEG.

They run in the order light meets a camera (scene light, optics, sensor, encoder) on float
HWC images in [0, 1], each with its own probability and parameter range from
``synthesize.overlay``. Every applied step adds a ``key=value`` tag stating the value drawn,
so error analysis can ask whether the mistakes pile up on, say, ``jpeg=20``.
"""

from __future__ import annotations

import cv2
import numpy as np

from traindev.config import OverlayParams


def low_light(image: np.ndarray, gain: float, gamma: float) -> np.ndarray:
    """A dim scene: ``gain * image ** gamma``; gamma above 1 sinks the mid-tones further."""
    return gain * np.power(np.clip(image, 0.0, 1.0), gamma)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Out of focus or shaken: a Gaussian of ``sigma`` pixels (0: unchanged)."""
    if sigma <= 0:
        return image
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    return blurred.reshape(image.shape)  # cv2 drops a single channel axis


def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Read noise: additive Gaussian of ``sigma`` (a share of full scale), clipped."""
    return np.clip(image + rng.normal(0.0, sigma, size=image.shape), 0.0, 1.0)


def shot_noise(image: np.ndarray, photons: float, rng: np.random.Generator) -> np.ndarray:
    """Photon noise: each pixel counts Poisson(image * photons) photons; fewer is noisier."""
    return np.clip(rng.poisson(np.clip(image, 0.0, 1.0) * photons) / photons, 0.0, 1.0)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at ``quality`` (1..100): block and ringing artefacts."""
    as_bytes = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", as_bytes, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - cv2 encodes any uint8 image
        raise RuntimeError("JPEG encoding failed")
    flag = cv2.IMREAD_GRAYSCALE if image.shape[-1] == 1 else cv2.IMREAD_COLOR
    decoded = cv2.imdecode(encoded, flag).reshape(image.shape)
    return decoded.astype(np.float32) / 255.0


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], decimals: int) -> float:
    """A draw rounded before use, so its tag states exactly the value applied."""
    return round(float(rng.uniform(bounds[0], bounds[1])), decimals) + 0.0


def degrade(
    image: np.ndarray, params: OverlayParams, rng: np.random.Generator
) -> tuple[np.ndarray, list[str]]:
    """Apply each degradation with its probability; returns the image and the tags applied.

    The coin for every step is always tossed, so turning one step on does not change which
    images the others hit.
    """
    coins = rng.random(5)
    tags: list[str] = []
    image = image.astype(np.float32)
    if coins[0] < params.low_light.p:
        gain = _uniform(rng, params.low_light.gain, 2)
        gamma = _uniform(rng, params.low_light.gamma, 2)
        image = low_light(image, gain, gamma)
        tags += [f"gain={gain:g}", f"gamma={gamma:g}"]
    if coins[1] < params.blur.p:
        sigma = _uniform(rng, params.blur.sigma, 2)
        image = gaussian_blur(image, sigma)
        tags.append(f"blur={sigma:g}")
    if coins[2] < params.gaussian_noise.p:
        sigma = _uniform(rng, params.gaussian_noise.sigma, 3)
        image = gaussian_noise(image, sigma, rng)
        tags.append(f"read_noise={sigma:g}")
    if coins[3] < params.shot_noise.p:
        photons = _uniform(rng, params.shot_noise.photons, 0)
        image = shot_noise(image, photons, rng)
        tags.append(f"photons={photons:g}")
    if coins[4] < params.jpeg.p:
        low, high = params.jpeg.quality
        quality = int(rng.integers(low, high, endpoint=True))
        image = jpeg(image, quality)
        tags.append(f"jpeg={quality}")
    return np.clip(image, 0.0, 1.0).astype(np.float32), tags
