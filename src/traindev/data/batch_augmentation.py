"""Frozen (docs/augmentation-backend.md): the declared pipeline on whole batches, in torch.

Why: on small images albumentations' cost is its per-image Python dispatch (about 270 us per
8x8 digit for the `notes` preset), which no number of workers on a small machine hides; the
same transforms on a (N, C, H, W) tensor cost a few torch ops per batch, on the GPU when there
is one. `train.augment.backend` picks this path (`auto`: whenever every declared transform has
a translation here) or albumentations' per-image workers.

Semantics follow albumentations 2.0.8 (its source was read for each transform): the same
argument parsing (each step is built from the validated albumentations transform's own
attributes, so ranges, defaults and 1.x-style scalars mean the same), the same sampling
distributions, the same per-transform probability `p`, the same pixel maps (cv2's half-pixel
centres, bilinear sampling, constant / replicate / reflect borders with `fill`), clipping to
[0, 1] after each colour transform as albumentations does for float images.

Two deliberate differences:
- Consecutive geometric transforms (RandomResizedCrop, Rotate, Affine, ElasticTransform,
  flips) with the same interpolation and border are composed into one per-image coordinate
  map and applied with ONE `grid_sample`: one interpolation instead of four (sharper), and
  where an intermediate image would have been filled (a rotated crop's corners) the composed
  map reads the real pixels instead; only points that leave the original image get `fill`.
- The random numbers come from a counter-based hash of (train.seed, epoch, store row,
  transform, draw), not from albumentations' generators: the same distributions, not the same
  draws. Each image's augmentation therefore depends only on its own row, so it is identical
  for any batch size, chunking, worker count or torchrun world size, on CPU and on CUDA
  alike (up to floating-point rounding across devices).

ElasticTransform blurs each displacement field on its own with replicated borders; cv2 blurs
dx and dy stacked as one (2H, W) image, so near the seam (dx's last rows, dy's first) its
fields bleed into each other a little. That cv2 artefact is not reproduced.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from traindev.config import ParamsError
from traindev.data.augmentation import WHERE, TransformSpec, build_pipeline

# cv2 flag values (albumentations stores these ints), kept here so cv2 is not imported.
INTER_NEAREST, INTER_LINEAR = 0, 1
BORDER_CONSTANT, BORDER_REPLICATE, BORDER_REFLECT = 0, 1, 2
INTERPOLATION = {INTER_NEAREST: "nearest", INTER_LINEAR: "bilinear"}
# cv2 border -> grid_sample padding. BORDER_REFLECT ("fedcba|abcdef") is grid_sample's
# reflection with align_corners=False; REFLECT_101 and WRAP have no grid_sample equivalent.
PADDING = {BORDER_CONSTANT: "zeros", BORDER_REPLICATE: "border", BORDER_REFLECT: "reflection"}
MAX_CHUNK_BYTES = 32 * 2**20  # float bytes of images augmented per call (chunk_rows)


class Untranslatable(Exception):
    """A declared transform, or one of its arguments, has no batched translation."""


# ---------------------------------------------------------------------------------------------
# Counter-based random numbers: a hash of (seed, epoch, row, stream, draw), on any device


_M32 = 0xFFFFFFFF
Hashable = TypeVar("Hashable", torch.Tensor, np.ndarray, int)


def _mix32(x: Hashable) -> Hashable:
    """A 32-bit integer hash (lowbias32's shape) of values < 2**32: int64 tensors on any
    device, uint64 arrays on the host (the geometric steps' parameters), Python ints (per-call
    constants, no tiny tensor ops). The same bits in all three.

    Both multipliers are below 2**31, so every product stays below 2**63: no int64 overflow
    (undefined in C++), the same bits on every device. Two mixes (row key, then draw) give
    each draw a well-spread value.
    """
    x = x ^ (x >> 16)  # a new value: the caller's x is never changed; then in place
    x *= 0x7FEB352D
    x &= _M32
    x ^= x >> 15
    x *= 0x5BD1E995
    x &= _M32
    x ^= x >> 16
    return x


Rows = TypeVar("Rows", torch.Tensor, np.ndarray)


def row_keys(seed: int, epoch: int, rows: Rows) -> Rows:
    """One 32-bit key per image from (seed, epoch, store row): the root of all its draws.
    int64 on the rows' device for a tensor, uint64 for a host array (the same values)."""
    seed = int(seed) % 2**64
    head = _mix32(_mix32(seed & _M32) ^ (seed >> 32))
    head = _mix32(head ^ (int(epoch) & _M32))
    rows = rows.to(torch.int64) if torch.is_tensor(rows) else np.asarray(rows).astype(np.uint64)
    return _mix32(_mix32((rows & _M32) ^ head) ^ (rows >> 32))


def _salt(stream: int) -> int:
    return _mix32((stream * 0x9E3779B9 + 0x632BE5AB) & _M32)


def _hashes(keys: torch.Tensor, stream: int, count: int) -> torch.Tensor:
    """(N, count) 32-bit hashes (int64): draw j of `stream` for each image's key."""
    draws = torch.arange(count, dtype=torch.int64, device=keys.device)
    return _mix32(keys[:, None] ^ ((draws * 0x9E3779B9 + _salt(stream)) & _M32))


def uniforms(keys: torch.Tensor, stream: int, shape: tuple[int, ...]) -> torch.Tensor:
    """(N, *shape) float32 uniforms in (0, 1) (24 random bits each)."""
    hashed = _hashes(keys, stream, math.prod(shape))
    values = ((hashed >> 8).to(torch.float32) + 0.5) * (1.0 / 2**24)
    return values.reshape(len(keys), *shape)


def half_uniforms(keys: torch.Tensor, stream: int, shape: tuple[int, ...]) -> torch.Tensor:
    """(N, *shape) float32 uniforms in (0, 1) with 16 random bits each: two per hash, for
    draws where 1/65536 of the range is resolution enough (half the hashing)."""
    count = math.prod(shape)
    hashed = _hashes(keys, stream, (count + 1) // 2)
    values = torch.cat([hashed >> 16, hashed & 0xFFFF], dim=1).to(torch.float32)
    return ((values[:, :count] + 0.5) * (1.0 / 2**16)).reshape(len(keys), *shape)


def normals(keys: torch.Tensor, stream: int, shape: tuple[int, ...]) -> torch.Tensor:
    """(N, *shape) standard normals: Box-Muller, both outputs, on two 16-bit uniforms per hash
    (tails cut at 4.8 sigma; a quarter of the hashing of one 24-bit uniform per number)."""
    count = math.prod(shape)
    hashed = _hashes(keys, stream, (count + 1) // 2)
    # In place where the value is new: at these sizes an op's allocation costs as much as its
    # arithmetic.
    radius = (hashed >> 16).to(torch.float32).add_(0.5).mul_(1.0 / 2**16)
    radius.log_().mul_(-2.0).sqrt_()
    angle = (hashed & 0xFFFF).to(torch.float32).add_(0.5).mul_(2.0 * math.pi / 2**16)
    values = torch.cat([radius * torch.cos(angle), radius.mul_(angle.sin_())], dim=1)
    return values[:, :count].reshape(len(keys), *shape)


# The same numbers on the host, in NumPy: the geometric steps' parameters are a few dozen
# arithmetic ops on N-vectors, where torch's per-op dispatch (3-5 us) cost more than the work
# (385 of a call's 640 ops on 8x8 digits). uint64 holds the 32-bit values as int64 does.


Uniforms = TypeVar("Uniforms", torch.Tensor, np.ndarray)


def _hashes_host(keys: np.ndarray, stream: int, count: int) -> np.ndarray:
    draws = np.arange(count, dtype=np.uint64)
    return _mix32(keys[:, None] ^ ((draws * 0x9E3779B9 + _salt(stream)) & _M32))


def first_uniforms_host(keys: np.ndarray, streams: Sequence[int]) -> np.ndarray:
    """(N, len(streams)) float32: draw 0 of each stream, exactly `uniforms(keys, stream,
    (1,))` of each, hashed in one pass (per-op overhead is most of a small image's cost)."""
    salts = np.array([_salt(stream) for stream in streams], dtype=np.uint64)
    return _unit24(_mix32(keys[:, None] ^ salts))


def _unit24(hashed: np.ndarray) -> np.ndarray:
    """float32 uniforms in (0, 1) from 24 bits of each hash, as `uniforms` makes them."""
    return ((hashed >> 8).astype(np.float32) + np.float32(0.5)) * np.float32(1.0 / 2**24)


def uniforms_host(keys: np.ndarray, stream: int, count: int) -> np.ndarray:
    """`uniforms(keys, stream, (count,))` on host keys: the same float32 values, as float64."""
    return _unit24(_hashes_host(keys, stream, count)).astype(np.float64)


def normals_host(keys: np.ndarray, stream: int, count: int) -> np.ndarray:
    """`normals(keys, stream, (count,))` on host keys, as float64 (from the same 16-bit
    uniforms; the float math differs from torch's by rounding only)."""
    hashed = _hashes_host(keys, stream, (count + 1) // 2)
    first = ((hashed >> 16).astype(np.float32) + np.float32(0.5)) * np.float32(1.0 / 2**16)
    turn = ((hashed & 0xFFFF).astype(np.float32) + np.float32(0.5)) * np.float32(1.0 / 2**16)
    radius = np.sqrt(-2.0 * np.log(first.astype(np.float64)))
    angle = turn.astype(np.float64) * (2.0 * math.pi)
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)], axis=1)[:, :count]


def half_uniforms_host(keys: np.ndarray, stream: int, count: int) -> np.ndarray:
    """`half_uniforms(keys, stream, (count,))` on host keys, as float64."""
    hashed = _hashes_host(keys, stream, (count + 1) // 2)
    return _unit16(np.concatenate([hashed >> 16, hashed & 0xFFFF], axis=1)[:, :count])


def _unit16(bits: np.ndarray) -> np.ndarray:
    """float64 uniforms in (0, 1) from 16-bit values, as `half_uniforms` makes them."""
    return ((bits.astype(np.float32) + np.float32(0.5)) * np.float32(1.0 / 2**16)).astype(
        np.float64
    )


def between(u: Uniforms, low: float, high: float) -> Uniforms:
    """Uniform in [low, high] from uniforms in (0, 1) (random.uniform's `a + (b - a) * u`)."""
    return low + (high - low) * u


# ---------------------------------------------------------------------------------------------
# Steps: each samples its parameters for a batch from the images' keys


@dataclass(frozen=True)
class Draw:
    """Where a step's random numbers come from, and whether it applies to each image."""

    keys: torch.Tensor  # (N,) int64
    stream: int  # this step's own stream: adding a transform leaves the others' draws alone
    applied: torch.Tensor  # (N,) bool: uniform < p

    def host_keys(self) -> np.ndarray:
        return _host(self.keys)

    def u_host(self, count: int) -> np.ndarray:
        """(N, count) float64 uniforms of this step (its draw 0 decided `applied`), on the
        host: per-image parameters are a few ops on N-vectors, cheaper in NumPy than torch's
        per-op dispatch."""
        return HostDraw(self.host_keys(), self.stream).u_host(count)

    def on_device(self, *parameters: np.ndarray) -> torch.Tensor:
        """(len(parameters), N): host parameter vectors, zeroed where the step is not
        applied, as float32 on the images' device (one copy)."""
        stacked = np.stack(parameters)
        stacked[:, ~_host(self.applied)] = 0.0
        return _on_device(stacked, self.keys)

    def subset(self) -> tuple[torch.Tensor, Draw]:
        """The applied images' positions, and the draw of those images alone (each image's
        numbers depend on its key only, so a subset draws exactly what the batch would)."""
        index = torch.nonzero(self.applied).squeeze(1)
        return index, Draw(self.keys[index], self.stream, self.applied[index])


@dataclass(frozen=True)
class HostDraw:
    """A step's draws for some images, on the host: what the geometric steps need."""

    keys: np.ndarray  # (N,) uint64
    stream: int

    def host_keys(self) -> np.ndarray:
        return self.keys

    def u_host(self, count: int) -> np.ndarray:
        """(N, count) float64 uniforms: `Draw.u(count)`'s numbers, on the host."""
        return uniforms_host(self.keys, self.stream, count + 1)[:, 1:]


Number = np.ndarray | float


def _affine(rows: list[list[Number]], n: int) -> np.ndarray:
    """(N, 3, 3) float64 from a 2x3 nested list of per-image arrays or floats."""
    m = np.zeros((n, 3, 3))
    m[:, 2, 2] = 1.0
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            m[:, i, j] = value
    return m


def _host(values: torch.Tensor) -> np.ndarray:
    """Keys (as uint64) or masks, on the host (free on CPU; one copy from a GPU)."""
    array = values.cpu().numpy()
    return array.astype(np.uint64) if array.dtype == np.int64 else array


def _on_device(m: np.ndarray, keys: torch.Tensor) -> torch.Tensor:
    """Host arrays (matrices, parameter vectors) -> float32 on the images' device, one copy."""
    return torch.from_numpy(m.astype(np.float32)).to(keys.device)


def _identities(n: int) -> np.ndarray:
    return np.tile(np.eye(3), (n, 1, 1))


def _invert(m: np.ndarray) -> np.ndarray:
    """Inverse of (N, 3, 3) affine matrices (last row 0 0 1), in closed form."""
    a, b, c = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2]
    d, e, f = m[:, 1, 0], m[:, 1, 1], m[:, 1, 2]
    det = a * e - b * d
    rows = [[e / det, -b / det, (b * f - e * c) / det], [-d / det, a / det, (d * c - a * f) / det]]
    return _affine(rows, len(m))


def forward_matrix(
    translate: tuple[Number, Number],
    shear: tuple[Number, Number],
    scale: tuple[Number, Number],
    rotate: np.ndarray,
    centre: tuple[float, float],
) -> np.ndarray:
    """albumentations' create_affine_transformation_matrix (source -> output), batched, in
    float64 like albumentations' own.

    m = shift_back @ translate @ shear @ rotate @ scale @ shift_to_origin, angles in degrees.
    """
    radians = np.deg2rad(np.remainder(rotate, 360.0))
    cos, sin = np.cos(radians), np.sin(radians)
    tan_x, tan_y = np.tan(np.deg2rad(shear[0])), np.tan(np.deg2rad(shear[1]))
    sx, sy = scale
    # shear @ rotate @ scale, the linear part
    r00, r01, r10, r11 = cos * sx, sin * sy, -sin * sx, cos * sy
    l00, l01 = r00 + tan_x * r10, r01 + tan_x * r11
    l10, l11 = tan_y * r00 + r10, tan_y * r01 + r11
    cx, cy = centre
    tx = translate[0] + cx - (l00 * cx + l01 * cy)
    ty = translate[1] + cy - (l10 * cx + l11 * cy)
    return _affine([[l00, l01, tx], [l10, l11, ty]], len(rotate))


class Step:
    """One declared transform. `inverse_map` (geometric) maps output pixel coordinates to
    input ones as a (N, 3, 3) matrix; `displacement` (elastic) is a (N, 2, H, W) field added
    to them; `colour` transforms the pixels."""

    kind: str = "affine"  # affine | elastic | colour

    def __init__(self, spec: TransformSpec, transform: Any) -> None:
        self.spec, self.p = spec, float(transform.p)
        self.interpolation = getattr(transform, "interpolation", INTER_LINEAR)
        self.border = getattr(transform, "border_mode", BORDER_CONSTANT)
        self.fill = getattr(transform, "fill", 0)
        if self.kind != "colour":
            if self.interpolation not in INTERPOLATION:
                raise Untranslatable(
                    f"interpolation {self.interpolation} (only cv2.INTER_LINEAR = 1 and "
                    "INTER_NEAREST = 0 are translated)"
                )
            if self.border not in PADDING:
                raise Untranslatable(
                    f"border_mode {self.border} (only constant 0, replicate 1, reflect 2)"
                )

    def warp_key(self) -> tuple:
        """Consecutive geometric steps with equal keys share one grid_sample."""
        fill = tuple(self.fill) if isinstance(self.fill, list | tuple) else (self.fill,)
        return (self.interpolation, self.border, fill)

    def inverse_map(self, draw: Draw, shape: tuple[int, int]) -> torch.Tensor:
        """(N, 3, 3) float32 on the images' device."""
        host = HostDraw(draw.host_keys(), draw.stream)
        return _on_device(self.inverse_map_host(host, shape), draw.keys)

    def inverse_map_host(self, draw: HostDraw, shape: tuple[int, int]) -> np.ndarray:
        """(N, 3, 3) float64 on the host."""
        raise NotImplementedError

    def displacement(self, draw: Draw, shape: tuple[int, int]) -> torch.Tensor:
        raise NotImplementedError

    def colour(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        raise NotImplementedError


class CropStep(Step):
    """RandomResizedCrop: an integer box of random area and aspect ratio, resized back."""

    def __init__(self, spec: TransformSpec, transform: Any) -> None:
        super().__init__(spec, transform)
        self.scale, self.ratio = tuple(transform.scale), tuple(transform.ratio)
        self.size = tuple(transform.size)

    def boxes(self, draw: Draw | HostDraw, shape: tuple[int, int]) -> torch.Tensor:
        """(N, 4) x_min, y_min, crop width, crop height, as albumentations samples them:
        the first of 10 tries that fits, else the central crop of the nearest ratio.

        The first try's 4 uniforms are drawn for every image; all 10 tries only for those it
        does not fit (7% with the notes preset on 8x8 digits): the same numbers, a fifth of
        the hashing.
        """
        keys, stream = draw.host_keys(), draw.stream + 3_000_017
        # Try t's uniforms are draws 4t..4t+3 of half_uniforms_host(keys, stream, 40): try 0's
        # are the high halves of its first 4 hashes.
        box, fitted = self._first_fit(_unit16(_hashes_host(keys, stream, 4) >> 16)[:, None], shape)
        retry = np.flatnonzero(~fitted)
        if len(retry):
            tries = half_uniforms_host(keys[retry], stream, 40).reshape(len(retry), 10, 4)
            box[retry] = self._first_fit(tries, shape)[0]
        return torch.from_numpy(box.astype(np.float32))

    def _first_fit(self, u: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(N, 4) boxes of the first fitting try among u's (N, tries, 4) uniforms (the central
        crop where none fits), and whether one fitted."""
        height, width = shape
        area = height * width
        target = between(u[..., 0], self.scale[0] * area, self.scale[1] * area)
        log_ratio = between(u[..., 1], math.log(self.ratio[0]), math.log(self.ratio[1]))
        aspect = np.exp(log_ratio)
        crop_w = np.round(np.sqrt(target * aspect))  # round half to even, as Python
        crop_h = np.round(np.sqrt(target / aspect))
        fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
        first = np.argmax(fits, axis=1)[:, None]
        any_fit = fits.any(axis=1)

        def pick(values: np.ndarray) -> np.ndarray:
            return np.take_along_axis(values, first, axis=1)[:, 0]

        crop_w, crop_h = pick(crop_w), pick(crop_h)
        y0 = np.floor((height - crop_h + 1) * pick(u[..., 2]))
        x0 = np.floor((width - crop_w + 1) * pick(u[..., 3]))
        box = np.stack([x0, y0, crop_w, crop_h], axis=1)
        central = np.asarray(self._central(shape), dtype=np.float64)
        return np.where(any_fit[:, None], box, central), any_fit

    def _central(self, shape: tuple[int, int]) -> tuple[float, float, float, float]:
        height, width = shape
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            crop_w, crop_h = width, round(width / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            crop_w, crop_h = round(height * self.ratio[1]), height
        else:
            crop_w, crop_h = width, height
        return ((width - crop_w) // 2, (height - crop_h) // 2, crop_w, crop_h)

    def inverse_map_host(self, draw: HostDraw, shape: tuple[int, int]) -> np.ndarray:
        out_h, out_w = self.size
        x0, y0, crop_w, crop_h = self.boxes(draw, shape).cpu().numpy().astype(np.float64).T
        sx, sy = crop_w / out_w, crop_h / out_h  # cv2.resize: src = (dst + 0.5) * s - 0.5
        return _affine([[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5]], len(sx))


def _centre(shape: tuple[int, int]) -> tuple[float, float]:
    height, width = shape
    return width / 2 - 0.5, height / 2 - 0.5  # albumentations' fgeometric.center


class RotateStep(Step):
    """Rotate: an angle uniform in `limit` degrees about the image centre."""

    def __init__(self, spec: TransformSpec, transform: Any) -> None:
        super().__init__(spec, transform)
        if transform.crop_border:
            raise Untranslatable("crop_border: true")
        self.limit = tuple(transform.limit)

    def inverse_map_host(self, draw: HostDraw, shape: tuple[int, int]) -> np.ndarray:
        angle = between(draw.u_host(1)[:, 0], *self.limit)
        return _invert(forward_matrix((0.0, 0.0), (0.0, 0.0), (1.0, 1.0), angle, _centre(shape)))


class AffineStep(Step):
    """Affine: scale, translate (px or percent), rotate and shear, albumentations' matrix."""

    def __init__(self, spec: TransformSpec, transform: Any) -> None:
        super().__init__(spec, transform)
        if transform.fit_output:
            raise Untranslatable("fit_output: true")
        self.scale = {axis: tuple(transform.scale[axis]) for axis in "xy"}
        self.keep_ratio, self.balanced = transform.keep_ratio, transform.balanced_scale
        self.translate_px = transform.translate_px
        self.translate_percent = transform.translate_percent
        self.rotate = tuple(transform.rotate)
        self.shear = {axis: tuple(transform.shear[axis]) for axis in "xy"}

    def _scale(self, u: np.ndarray, choose: np.ndarray, axis: str) -> np.ndarray:
        low, high = self.scale[axis]
        if not self.balanced:
            return between(u, low, high)
        below = between(u, low, 1.0) if low < 1 else None
        above = between(u, 1.0, high) if high > 1 else None
        if below is not None and above is not None:
            return np.where(choose < 0.5, below, above)
        chosen = below if below is not None else above
        return chosen if chosen is not None else np.ones_like(u)

    def _translate(self, u: np.ndarray, axis: int, size: int) -> np.ndarray:
        name = "xy"[axis]
        if self.translate_px is not None:  # random.randint: inclusive integers
            low, high = (int(v) for v in self.translate_px[name])
            return np.minimum(np.floor(low + u * (high - low + 1)), high)
        if self.translate_percent is not None:  # int() truncates toward zero
            return np.trunc(between(u, *self.translate_percent[name]) * size)
        return np.zeros_like(u)

    def inverse_map_host(self, draw: HostDraw, shape: tuple[int, int]) -> np.ndarray:
        height, width = shape
        u = draw.u_host(9)
        translate = (self._translate(u[:, 0], 0, width), self._translate(u[:, 1], 1, height))
        shear = (-between(u[:, 2], *self.shear["x"]), -between(u[:, 3], *self.shear["y"]))
        sx = self._scale(u[:, 4], u[:, 6], "x")
        sy = sx if self.keep_ratio else self._scale(u[:, 5], u[:, 7], "y")
        rotate = between(u[:, 8], *self.rotate)
        return _invert(forward_matrix(translate, shear, (sx, sy), rotate, _centre(shape)))


class FlipStep(Step):
    """HorizontalFlip / VerticalFlip (label-changing: gated by allow_label_changing)."""

    def inverse_map_host(self, draw: HostDraw, shape: tuple[int, int]) -> np.ndarray:
        height, width = shape
        m = _identities(len(draw.keys))
        axis = 0 if self.spec.name == "HorizontalFlip" else 1
        m[:, axis, axis] = -1.0
        m[:, axis, 2] = (width if axis == 0 else height) - 1.0
        return m


def gaussian_kernel(sigma: float, size: int) -> np.ndarray:
    """cv2.getGaussianKernel(size, sigma) for sigma > 0 (float64)."""
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def cv2_kernel_size(sigma: float) -> int:
    """cv2's automatic Gaussian kernel size for float images: round(sigma * 8 + 1) | 1."""
    return round(sigma * 8 + 1) | 1


@cache
def _blur_matrix(length: int, sigma: float, size: int) -> np.ndarray:
    kernel, radius = gaussian_kernel(sigma, size), size // 2
    matrix = np.zeros((length, length))
    for tap in range(size):  # replicated border: every source index clamped into the image
        sources = np.clip(np.arange(length) + tap - radius, 0, length - 1)
        np.add.at(matrix, (np.arange(length), sources), kernel[tap])
    return matrix.astype(np.float32)


def blur_matrix(length: int, sigma: float, size: int, device: torch.device) -> torch.Tensor:
    """(length, length) matrix B with out = B @ signal: a Gaussian blur along one axis with
    replicated borders (cv2.BORDER_REPLICATE), as a matmul (far faster than a thin conv)."""
    return torch.from_numpy(_blur_matrix(length, sigma, size)).to(device)


KRON_BLUR_MAX_PIXELS = 1024  # up to 32x32: the (HW, HW) blur matrix is at most 4 MB


@cache
def _kron_blur_matrix(height: int, width: int, sigma: float, size: int) -> np.ndarray:
    rows, columns = _blur_matrix(height, sigma, size), _blur_matrix(width, sigma, size)
    return np.ascontiguousarray(np.kron(rows, columns).T)


def blur(fields: torch.Tensor, sigma: float, size: int) -> torch.Tensor:
    """Separable Gaussian blur of (N, K, H, W) fields with replicated borders, like cv2.

    Small images: both axes in one (N*K, HW) @ (HW, HW) matmul, B_rows (x) B_columns (one
    large GEMM instead of two batches of tiny ones: 2-3x faster at 8x8).
    """
    height, width = fields.shape[-2:]
    if height * width <= KRON_BLUR_MAX_PIXELS:
        both = torch.from_numpy(_kron_blur_matrix(height, width, sigma, size))
        flat = fields.reshape(-1, height * width) @ both.to(fields.device)
        return flat.view(fields.shape)
    rows = blur_matrix(height, sigma, size, fields.device)
    columns = blur_matrix(width, sigma, size, fields.device)
    return rows @ fields @ columns.T


class ElasticStep(Step):
    """ElasticTransform: noise normalized to [-1, 1], blurred by sigma, scaled by alpha
    (pixels), added to each output pixel's source coordinates."""

    kind = "elastic"

    def __init__(self, spec: TransformSpec, transform: Any) -> None:
        super().__init__(spec, transform)
        self.alpha, self.sigma = float(transform.alpha), float(transform.sigma)
        self.kernel = 17 if transform.approximate else cv2_kernel_size(self.sigma)
        self.same, self.distribution = transform.same_dxdy, transform.noise_distribution

    def noise(self, draw: Draw, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The raw noise, and the (N, 1, 1, 1) factor that normalizes it to [-1, 1]
        (applied after the blur, which is linear: one multiply of the field, not a divide
        and a select over the noise)."""
        fields = (draw.keys.shape[0], 1 if self.same else 2, *shape)
        if self.distribution == "uniform":
            noise = uniforms(draw.keys, draw.stream + 7_000_001, fields[1:]) * 2.0 - 1.0
            return noise, noise.new_ones(len(noise), 1, 1, 1)
        noise = normals(draw.keys, draw.stream + 7_000_001, fields[1:])
        peak = noise.abs().amax(dim=(1, 2, 3), keepdim=True)
        return noise, torch.where(peak > 1e-6, 1.0 / peak.clamp_min(1e-6), 1.0)

    def field(self, noise: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """(N, 2, H, W) displacements (dx, dy): the noise blurred, times scale * alpha."""
        fields = blur(noise, self.sigma, self.kernel) * (scale * self.alpha)
        return fields.expand(-1, 2, -1, -1) if self.same else fields

    def displacement(self, draw: Draw, shape: tuple[int, int]) -> torch.Tensor:
        """(N, 2, H, W), zero where the step is not applied (computed for applied rows only:
        the noise and its blur are most of the pipeline's cost)."""
        index, applied = draw.subset()
        fields = torch.zeros(len(draw.keys), 2, *shape, device=draw.keys.device)
        if len(index):
            fields[index] = self.field(*self.noise(applied, shape))
        return fields


class BrightnessContrastStep(Step):
    """RandomBrightnessContrast: x * (1 + contrast) + brightness (times 1, the float maximum,
    or the image's mean with brightness_by_max: false), clipped to [0, 1]."""

    kind = "colour"

    def __init__(self, spec: TransformSpec, transform: Any) -> None:
        super().__init__(spec, transform)
        self.brightness = tuple(transform.brightness_limit)
        self.contrast = tuple(transform.contrast_limit)
        self.by_max, self.safe = transform.brightness_by_max, transform.ensure_safe_range

    def parameters(self, x: torch.Tensor, draw: Draw) -> tuple[torch.Tensor, torch.Tensor]:
        """(alpha, beta) per image; (1, 0), the identity, where the step is not applied."""
        u = draw.u_host(2)
        contrast, beta = draw.on_device(
            between(u[:, 0], *self.contrast), between(u[:, 1], *self.brightness)
        )
        alpha = 1.0 + contrast
        if not self.by_max:
            beta = beta * x.mean(dim=(1, 2, 3))
        if self.safe:  # fpixel.get_safe_brightness_contrast_params with max_value 1
            safe_beta = torch.where(alpha > 0, beta.clamp(0.0, 1.0), beta.clamp(max=1.0))
            safe_alpha = torch.where(
                alpha > 0,
                torch.minimum(alpha, 1.0 - safe_beta),
                torch.maximum(alpha, -safe_beta),
            )
            alpha, beta = safe_alpha, safe_beta
        return alpha, beta

    def colour(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        alpha, beta = self.parameters(x, draw)
        return torch.addcmul(beta.view(-1, 1, 1, 1), x, alpha.view(-1, 1, 1, 1)).clamp_(0.0, 1.0)


class ShiftStep(Step):
    """RGBShift: a constant per channel from its range (in 0..255 units when beyond 1)."""

    kind = "colour"

    def __init__(self, spec: TransformSpec, transform: Any) -> None:
        super().__init__(spec, transform)
        self.ranges = [tuple(r) for r in transform.noise_params["ranges"]]

    def shifts(self, draw: Draw, channels: int) -> torch.Tensor:
        """(N, channels), zero where the step is not applied."""
        if channels > len(self.ranges):
            raise Untranslatable(f"{channels} channels but {len(self.ranges)} ranges")
        u = draw.u_host(channels)
        ranges = self.ranges * channels if len(self.ranges) == 1 else self.ranges[:channels]
        return draw.on_device(*(between(u[:, c], *ranges[c]) for c in range(channels))).T

    def colour(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        shift = self.shifts(draw, x.shape[1])
        return (x + shift[:, :, None, None]).clamp_(0.0, 1.0)


class FancyPCAStep(Step):
    """FancyPCA as albumentations computes it: from each pixel's deviation c from the image
    mean and the image's colour covariance (eigenvalues lambda descending, eigenvectors V),
    noise V diag(alpha * lambda) c, alpha ~ N(0, alpha) per channel; on one channel,
    c * alpha * the image's standard deviation."""

    kind = "colour"

    def __init__(self, spec: TransformSpec, transform: Any) -> None:
        super().__init__(spec, transform)
        self.alpha = float(transform.alpha)

    def alphas(self, draw: Draw, channels: int) -> torch.Tensor:
        """(N, channels), zero (no noise) where the step is not applied."""
        drawn = normals_host(draw.host_keys(), draw.stream + 5_000_011, channels) * self.alpha
        return draw.on_device(*drawn.T).T

    def colour(self, x: torch.Tensor, draw: Draw) -> torch.Tensor:
        n, channels = x.shape[:2]
        alphas = self.alphas(draw, channels)
        pixels = x.reshape(n, channels, -1)
        if channels == 1:  # x + a std (x - mean) = x (1 + a std) - a std mean: two passes
            mean = pixels.mean(dim=2, keepdim=True)  # (torch.var_mean: 10x slower here)
            variance = (pixels - mean).square().mean(dim=2, keepdim=True)
            gain = alphas[:, :, None] * variance.sqrt()
            return torch.addcmul(-gain * mean, pixels, 1.0 + gain).reshape(x.shape).clamp_(0, 1)
        centred = pixels - pixels.mean(dim=2, keepdim=True)
        cov = centred @ centred.transpose(1, 2) / max(pixels.shape[2] - 1, 1)
        values, vectors = torch.linalg.eigh(cov.double())  # ascending
        values, vectors = values.flip(-1).float(), vectors.flip(-1).float()  # descending
        # albumentations 2.0.8's formula: V diag(alpha * lambda) c, the deviation c not first
        # projected on the axes (V^T c). An eigenvector's sign is arbitrary (LAPACK's choice);
        # alpha is symmetric about 0, so the distribution does not depend on it.
        noise = vectors @ torch.diag_embed(alphas * values) @ centred
        return (pixels + noise).reshape(x.shape).clamp_(0.0, 1.0)


STEPS: dict[str, type[Step]] = {
    "RandomResizedCrop": CropStep,
    "Rotate": RotateStep,
    "Affine": AffineStep,
    "HorizontalFlip": FlipStep,
    "VerticalFlip": FlipStep,
    "ElasticTransform": ElasticStep,
    "RandomBrightnessContrast": BrightnessContrastStep,
    "RGBShift": ShiftStep,
    "FancyPCA": FancyPCAStep,
}


def translate(spec: TransformSpec, transform: Any) -> Step:
    """The batched step of one validated albumentations transform, or Untranslatable."""
    if spec.name not in STEPS:
        raise Untranslatable("no batched translation of this transform")
    return STEPS[spec.name](spec, transform)


def untranslatable(specs: Sequence[TransformSpec], transforms: Sequence[Any]) -> str | None:
    """Why the pipeline cannot run batched (the first offending transform), or None."""
    for spec, transform in zip(specs, transforms, strict=True):
        try:
            translate(spec, transform)
        except Untranslatable as reason:
            return f"{spec.where}: {spec.name}: {reason}"
    return None


# ---------------------------------------------------------------------------------------------
# The pipeline on a batch


def _to_normalized(points: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Planar pixel coordinates (..., 2, HW) -> grid_sample's [-1, 1], align_corners=False."""
    height, width = shape
    scale = points.new_tensor([[2.0 / width], [2.0 / height]])
    return (points + 0.5) * scale - 1.0


def _normalizing(shape: tuple[int, int]) -> np.ndarray:
    """(3, 3) matrix of `_to_normalized`: (c + 0.5) * 2 / size - 1 on each axis."""
    height, width = shape
    rows = [
        [2.0 / width, 0.0, 1.0 / width - 1.0],
        [0.0, 2.0 / height, 1.0 / height - 1.0],
        [0.0, 0.0, 1.0],
    ]
    return np.array(rows)


def _grid(planar: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """(N, 2, HW) planar coordinates -> grid_sample's (N, H, W, 2) (one copy)."""
    return planar.transpose(1, 2).reshape(len(planar), *shape, 2)


class BatchAugmenter:
    """The declared pipeline on (N, C, H, W) float batches in [0, 1], on their device.

    Each image is augmented from its own key (seed, epoch, store row). Built from the specs
    through albumentations (validation, argument parsing); no albumentations call runs per
    image.
    """

    backend = "batched"

    def __init__(
        self,
        specs: Sequence[TransformSpec],
        pixel_max: int,
        seed: int,
        allow_label_changing: bool = False,
        transforms: Sequence[Any] | None = None,
    ) -> None:
        self.specs = tuple(specs)
        self.pixel_max = pixel_max
        self.seed = seed % 2**63
        self.allow_label_changing = allow_label_changing
        if transforms is None:
            transforms = build_pipeline(self.specs, allow_label_changing).transforms
        self.steps: list[Step] = []
        for spec, transform in zip(self.specs, transforms, strict=True):
            try:
                self.steps.append(translate(spec, transform))
            except Untranslatable as reason:
                raise ParamsError(
                    f"{spec.where}: {spec.name} has no batched translation ({reason}); set "
                    f"{WHERE}.backend: albumentations (or auto) to run it per image"
                ) from None
        self._base: dict[tuple, torch.Tensor] = {}

    def alone(self, index: int) -> BatchAugmenter:
        """Transform `index` by itself, always applied: the report's preview rows."""
        single = BatchAugmenter.__new__(BatchAugmenter)
        single.__dict__.update(self.__dict__)
        step = copy_step(self.steps[index])
        step.p = 1.0
        single.specs, single.steps, single._base = (self.specs[index],), [step], {}
        return single

    def groups(self) -> list[list[tuple[int, Step]]]:
        """Runs of geometric steps sharing a warp, and colour steps alone, in order."""
        groups: list[list[tuple[int, Step]]] = []
        for index, step in enumerate(self.steps):
            last = groups[-1] if groups else None
            if (
                step.kind != "colour"
                and last is not None
                and last[0][1].kind != "colour"
                and last[0][1].warp_key() == step.warp_key()
            ):
                last.append((index, step))
            else:
                groups.append([(index, step)])
        return groups

    @staticmethod
    def stream(index: int) -> int:
        return index * 16 + 1

    def draw(
        self, keys: torch.Tensor, index: int, step: Step, applied: torch.Tensor | None = None
    ) -> Draw:
        """Step `index`'s draws; `applied` (from `applied_host`) saves hashing its draw 0."""
        stream = self.stream(index)
        if applied is None:
            applied = uniforms(keys, stream, (1,))[:, 0] < step.p
        return Draw(keys, stream, applied)

    def applied_host(self, keys: np.ndarray) -> np.ndarray:
        """(N, steps) bool: whether each step applies to each image (draw 0 of its stream)."""
        streams = [self.stream(index) for index in range(len(self.steps))]
        p = np.array([step.p for step in self.steps], dtype=np.float32)
        return first_uniforms_host(keys, streams) < p

    def __call__(
        self, x: torch.Tensor, rows: torch.Tensor | np.ndarray, epoch: int
    ) -> torch.Tensor:
        """float (N, C, H, W) in [0, 1] of store `rows` -> augmented, same shape and device."""
        if len(x) == 0:
            return x
        rows = rows.cpu().numpy() if torch.is_tensor(rows) else np.asarray(rows)
        host_keys = row_keys(self.seed, epoch, rows)
        keys = torch.from_numpy(host_keys.astype(np.int64)).to(x.device)
        x = layout = x.float()
        applied = torch.from_numpy(self.applied_host(host_keys)).to(x.device)
        clamped = False  # every colour step clamps; a warp's fill may lie outside [0, 1]
        for group in self.groups():
            first = group[0][1]
            clamped = first.kind == "colour"
            if clamped:
                index, step = group[0]
                # Images the step skips get its identity parameters (x * 1 + 0 is x exactly):
                # no select over the pixels.
                x = step.colour(x, self.draw(keys, index, step, applied[:, index]))
            else:
                x = self.warp(x, keys, group, applied)
        return in_layout_of(x if clamped else x.clamp_(0.0, 1.0), layout)

    def base_grid(self, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
        """(3, HW) pixel centres x, y and a row of ones (homogeneous), cached per shape and
        device; `[:2]` is the planar base grid."""
        key = (shape, str(device))
        if key not in self._base:
            ys, xs = torch.meshgrid(
                torch.arange(shape[0], dtype=torch.float32, device=device),
                torch.arange(shape[1], dtype=torch.float32, device=device),
                indexing="ij",
            )
            self._base[key] = torch.stack(
                [xs.flatten(), ys.flatten(), torch.ones_like(xs).flatten()]
            )
        return self._base[key]

    def source_coordinates(
        self,
        keys: torch.Tensor,
        group: list[tuple[int, Step]],
        shape: tuple[int, int],
        applied: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(N, H, W, 2) source coordinates of every output pixel, the run composed, in
        grid_sample's [-1, 1] (align_corners=False).

        The output of steps s1..sk reads pixel B1(B2(...Bk(p))) of the input: walking from the
        last step, affine maps are multiplied into one pending matrix, applied to the points
        only when an elastic step needs the points it displaces, or at the end together with
        the pixel -> [-1, 1] map (one pass over the points, not two). Points are planar,
        (N, 2, HW): an affine map is then two broadcast multiply-adds, and the base grid's one
        GEMM (the interleaved (N, H, W, 2) layout cost 5-8x more).
        """
        n, device = len(keys), keys.device
        host_keys = _host(keys)
        host_applied = self.applied_host(host_keys) if applied is None else _host(applied)
        base = self.base_grid(shape, device)
        points: torch.Tensor | None = None  # (N, 2, HW); None: still the base grid
        pending: np.ndarray | None = None  # (N, 3, 3) float64 on the host; None: identity
        for index, step in reversed(group):
            if step.kind == "affine":  # sampled for the applied images only (p of them)
                chosen = np.flatnonzero(host_applied[:, index])
                if len(chosen):
                    draw = HostDraw(host_keys[chosen], self.stream(index))
                    matrix = step.inverse_map_host(draw, shape)
                    if pending is None:
                        pending = _identities(n)
                        pending[chosen] = matrix
                    else:
                        pending[chosen] = matrix @ pending[chosen]
                continue
            draw = self.draw(keys, index, step, None if applied is None else applied[:, index])
            field = step.displacement(draw, shape).view(n, 2, -1)  # zero where not applied
            if points is None and pending is None:
                points = base[:2] + field
                continue
            on_device = None if pending is None else _on_device(pending, keys)
            points = _apply(on_device, base if points is None else points)
            sampled = F.grid_sample(
                field.view(n, 2, *shape),
                _grid(_to_normalized(points, shape), shape),
                mode="bilinear",
                padding_mode="border",
                align_corners=False,
            )
            points, pending = points + sampled.view(n, 2, -1), None
        if pending is not None:
            to_unit = _on_device(_normalizing(shape) @ pending, keys)
            return _grid(_apply(to_unit, base if points is None else points), shape)
        if points is None:
            return _grid(_to_normalized(base[:2], shape)[None], shape).expand(n, *shape, 2)
        return _grid(_to_normalized(points, shape), shape)

    def warp(
        self,
        x: torch.Tensor,
        keys: torch.Tensor,
        group: list[tuple[int, Step]],
        applied: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One grid_sample for the whole run, constant borders filled with `fill`."""
        shape = (x.shape[2], x.shape[3])
        coords = self.source_coordinates(keys, group, shape, applied)
        first = group[0][1]
        fill = torch.as_tensor(first.warp_key()[2], dtype=x.dtype, device=x.device)
        fill = (
            fill.expand(x.shape[1]).view(1, -1, 1, 1) if fill.numel() in (1, x.shape[1]) else None
        )
        if fill is None:
            raise ParamsError(f"{first.spec.where}: fill needs one value or one per channel")
        constant = first.border == BORDER_CONSTANT and bool(fill.any())
        source = x - fill if constant else x
        out = F.grid_sample(
            source,
            coords,
            mode=INTERPOLATION[first.interpolation],
            padding_mode=PADDING[first.border],
            align_corners=False,
        )
        return out + fill if constant else out


def in_layout_of(x: torch.Tensor, layout: torch.Tensor) -> torch.Tensor:
    """`x` with `layout`'s strides (one copy when they differ).

    Why: convolutions pick their kernels from the input's strides. Batches from the store are
    channels-last views of its NHWC pixels, grid_sample returns NCHW, and on CPU lenet5 trained
    25-35% slower on the NCHW batches (same values; oneDNN's NCHW convolution, not the data).
    Augmentation must not change which kernels training runs.
    """
    if x.stride() == layout.stride():
        return x
    if (
        x.shape[1] == 1
        and x.is_contiguous()
        and layout.is_contiguous(memory_format=torch.channels_last)
    ):  # one channel: NCHW and NHWC are the same bytes, only the strides need to change
        return x.as_strided(layout.shape, layout.stride())
    return torch.empty_like(layout).copy_(x)


def _apply(matrix: torch.Tensor | None, points: torch.Tensor) -> torch.Tensor:
    """(N, 3, 3) affine matrices applied to planar points: the homogeneous base grid (3, HW)
    as one (2N, 3) @ (3, HW) GEMM, or (N, 2, HW) points as two broadcast multiply-adds."""
    if matrix is None:
        return points
    if points.dim() == 2:
        return (matrix[:, :2, :].reshape(-1, 3) @ points).view(len(matrix), 2, -1)
    linear = matrix[:, :2, :2]
    moved = torch.addcmul(matrix[:, :2, 2:], linear[:, :, 0:1], points[:, 0:1])
    return moved.addcmul_(linear[:, :, 1:2], points[:, 1:2])


def copy_step(step: Step) -> Step:
    clone = step.__class__.__new__(step.__class__)
    clone.__dict__.update(step.__dict__)
    return clone


def chunk_rows(batch_size: int, image_shape: tuple[int, ...]) -> int:
    """Rows augmented at once in memory: whole batches, up to MAX_CHUNK_BYTES of floats
    (torch's per-op overhead is then paid once per chunk, not once per small batch)."""
    per_image = 4 * math.prod(image_shape)
    return max(batch_size, min(8192, MAX_CHUNK_BYTES // max(per_image, 1)))
