"""The batched backend: albumentations' semantics on whole batches, seeded per (seed, epoch,
row)."""

from __future__ import annotations

import math

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
from albumentations.augmentations.pixel import functional as fpixel
from helpers.image_stores import tiny_store

from traindev.config import AugmentParams, ParamsError, TrainParams
from traindev.data.augmentation import Augmenter, make_augmenter, resolve_specs
from traindev.data.batch_augmentation import (
    BatchAugmenter,
    CropStep,
    HostDraw,
    _apply,
    blur,
    cv2_kernel_size,
    first_uniforms_host,
    half_uniforms,
    half_uniforms_host,
    normals,
    normals_host,
    row_keys,
    uniforms,
    uniforms_host,
)
from traindev.data.batches import (
    Shard,
    StoreBatches,
    TensorBatches,
    split_rows,
    to_model_input,
)
from traindev.params_file import validate_params
from traindev.stages.train import SplitBatches
from traindev.training.distributed import DistributedContext

CPU = torch.device("cpu")
BATCHED = AugmentParams(enabled=True, backend="batched")
MARGIN = 3  # border pixels left out of comparisons: fill / replicate rules differ at the edge


def smooth_image(channels: int = 1, side: int = 16, seed: int = 0) -> np.ndarray:
    """A smooth float32 (H, W, C) image in [0.1, 0.9]: bilinear sampling stays comparable
    even where cv2 quantizes coordinates to 1/32 pixel."""
    noise = np.random.default_rng(seed).random((side, side, channels)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0).reshape(side, side, channels)
    low, high = smooth.min(), smooth.max()
    return (0.1 + 0.8 * (smooth - low) / (high - low)).astype(np.float32)


def one(name: str, **args) -> AugmentParams:
    return AugmentParams(
        enabled=True, preset="none", backend="batched", transforms=[{"name": name, **args}]
    )


def batched(params: AugmentParams, channels: int, side: int = 16) -> BatchAugmenter:
    specs = resolve_specs(params, (channels, side, side))
    return BatchAugmenter(specs, 1, seed=0, allow_label_changing=params.allow_label_changing)


def run(augmenter: BatchAugmenter, image: np.ndarray, row: int = 3) -> np.ndarray:
    """One (H, W, C) image through the batched pipeline, back as (H, W, C)."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    return augmenter(x, torch.tensor([row]), epoch=1)[0].permute(1, 2, 0).numpy()


def interior(image: np.ndarray) -> np.ndarray:
    return np.reshape(image, (16, 16, -1))[MARGIN:-MARGIN, MARGIN:-MARGIN]


def assert_close(ours: np.ndarray, theirs: np.ndarray, tolerance: float) -> None:
    difference = np.abs(interior(ours) - interior(theirs)).max()
    assert difference <= tolerance, f"max difference {difference:.4f} > {tolerance}"


# ---------------------------------------------------------------------------------------------
# Each transform, its random parameters fixed, against albumentations' own output


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("Rotate", {"limit": (10, 10)}),
        ("Rotate", {"limit": (-25, -25), "border_mode": cv2.BORDER_REPLICATE}),
        (
            "Affine",
            {"scale": (1.15, 1.15), "translate_px": (1, 1), "rotate": (6, 6), "shear": (8, 8)},
        ),
        ("Affine", {"scale": {"x": (0.9, 0.9), "y": (1.2, 1.2)}, "shear": {"x": (-10, -10)}}),
    ],
)
def test_fixed_geometric_transforms_match_albumentations(name, args):
    image = smooth_image()
    theirs = getattr(A, name)(**args, p=1.0)(image=image)["image"]
    ours = run(batched(one(name, **args, p=1.0), 1), image)
    assert_close(ours, theirs, 0.02)


def test_a_fixed_crop_box_is_resized_as_albumentations_does(monkeypatch):
    image = smooth_image()
    box = (2, 3, 10, 9)  # x_min, y_min, width, height
    monkeypatch.setattr(
        CropStep, "boxes", lambda self, draw, shape: torch.tensor([box], dtype=torch.float32)
    )
    crop = A.RandomResizedCrop(size=(16, 16), p=1.0)
    theirs = crop.apply(image, crop_coords=(box[0], box[1], box[0] + box[2], box[1] + box[3]))
    ours = run(batched(one("RandomResizedCrop", size=(16, 16), p=1.0), 1), image)
    assert_close(ours, theirs, 1e-4)


@pytest.mark.parametrize("shape", [(16, 16), (8, 40), (40, 36)])  # one matmul; separable
def test_the_elastic_blur_is_cv2s_gaussian_blur_with_replicated_borders(shape):
    field = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    expected = cv2.GaussianBlur(field, (0, 0), 3.0, borderType=cv2.BORDER_REPLICATE)
    ours = blur(torch.from_numpy(field)[None, None], 3.0, cv2_kernel_size(3.0))[0, 0]
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-5)


def test_the_elastic_field_warps_as_albumentations_remaps():
    image = smooth_image()
    augmenter = batched(one("ElasticTransform", alpha=3.0, sigma=2.0, p=1.0), 1)
    keys = row_keys(augmenter.seed, 1, torch.tensor([3]))
    step = augmenter.steps[0]
    dx, dy = step.displacement(augmenter.draw(keys, 0, step), (16, 16))[0].numpy()
    grid_x, grid_y = np.meshgrid(np.arange(16), np.arange(16))
    elastic = A.ElasticTransform(alpha=3.0, sigma=2.0, p=1.0)
    theirs = elastic.apply(
        image, map_x=(grid_x + dx).astype(np.float32), map_y=(grid_y + dy).astype(np.float32)
    )
    assert np.abs(dx).max() > 0.1  # a real displacement, not a no-op
    assert_close(run(augmenter, image), theirs, 0.02)


@pytest.mark.parametrize("by_max", [True, False])
def test_fixed_brightness_and_contrast_match_albumentations(by_max):
    image = smooth_image()
    args = {"brightness_limit": (0.1, 0.1), "contrast_limit": (0.3, 0.3)}
    args["brightness_by_max"] = by_max
    theirs = A.RandomBrightnessContrast(**args, p=1.0)(image=image)["image"]
    ours = run(batched(one("RandomBrightnessContrast", **args, p=1.0), 1), image)
    np.testing.assert_allclose(np.reshape(ours, image.shape), theirs, atol=1e-5)


def test_a_fixed_rgb_shift_matches_albumentations():
    image = smooth_image(channels=3)
    args = {"r_shift_limit": (20, 20), "g_shift_limit": (-0.05, -0.05), "b_shift_limit": (3, 3)}
    theirs = A.RGBShift(**args, p=1.0)(image=image)["image"]
    ours = run(batched(one("RGBShift", **args, p=1.0), 3), image)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 3])
def test_fancy_pca_matches_albumentations_for_the_same_alphas(channels):
    image = smooth_image(channels=channels)
    augmenter = batched(one("FancyPCA", alpha=0.5, p=1.0), channels)
    keys = row_keys(augmenter.seed, 1, torch.tensor([3]))
    step = augmenter.steps[0]
    alphas = step.alphas(augmenter.draw(keys, 0, step), channels)[0].numpy()
    theirs = fpixel.fancy_pca(image, alphas)
    ours = run(augmenter, image)
    assert np.abs(ours - image).max() > 1e-3  # it did something
    np.testing.assert_allclose(np.reshape(ours, image.shape), theirs, atol=1e-4)


@pytest.mark.parametrize("name", ["HorizontalFlip", "VerticalFlip"])
def test_flips_match_albumentations_when_label_changes_are_allowed(name):
    image = smooth_image()
    params = one(name, p=1.0).model_copy(update={"allow_label_changing": True})
    theirs = getattr(A, name)(p=1.0)(image=image)["image"]
    np.testing.assert_allclose(run(batched(params, 1), image), theirs, atol=1e-6)
    with pytest.raises(ParamsError, match="allow_label_changing"):
        batched(one(name, p=1.0), 1)


# ---------------------------------------------------------------------------------------------
# Probabilities and sampled ranges


@pytest.mark.parametrize("channels", [1, 3])
def test_augmented_batches_keep_the_input_memory_layout(channels):
    """Store batches are channels-last views; NCHW output would switch training's kernels."""
    specs = resolve_specs(AugmentParams(enabled=True), (channels, 8, 8))
    x = torch.rand(16, 8, 8, channels).permute(0, 3, 1, 2)  # as to_model_input gives them
    out = BatchAugmenter(specs, 255, 0)(x, torch.arange(16), 1)
    assert out.stride() == x.stride()


def test_p_zero_is_the_identity_and_p_one_changes_every_image():
    specs = resolve_specs(AugmentParams(enabled=True), (1, 8, 8))
    rows = torch.arange(32)
    x = torch.rand(32, 1, 8, 8)
    off = [type(spec)(spec.where, spec.name, {**spec.args, "p": 0.0}) for spec in specs]
    torch.testing.assert_close(BatchAugmenter(off, 16, 0)(x.clone(), rows, 1), x)
    on = [type(spec)(spec.where, spec.name, {**spec.args, "p": 1.0}) for spec in specs]
    changed = (BatchAugmenter(on, 16, 0)(x.clone(), rows, 1) - x).abs().amax(dim=(1, 2, 3))
    assert bool((changed > 1e-3).all())


@pytest.mark.parametrize(("channels", "pixel_max"), [(1, 16), (3, 255)])
def test_the_preset_runs_batched_and_keeps_shape_and_range(channels, pixel_max):
    store = tiny_store(16, side=16, channels=channels, pixel_max=pixel_max)
    augmenter = make_augmenter(BATCHED, store, seed=0)
    x = to_model_input(torch.from_numpy(np.asarray(store.pixels)), pixel_max)
    out = augmenter(x.clone(), torch.arange(16), epoch=1)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0 and not torch.allclose(out, x)


def sample(augmenter: BatchAugmenter, rows: int = 400):
    keys = row_keys(augmenter.seed, 1, torch.arange(rows))
    step = augmenter.steps[0]
    return step, augmenter.draw(keys, 0, step)


def test_sampled_parameters_stay_in_the_declared_ranges():
    rotate, draw = sample(batched(one("Rotate", limit=(-7, 12), p=0.3), 1))
    forward = torch.linalg.inv(rotate.inverse_map(draw, (16, 16)))
    angles = torch.rad2deg(torch.atan2(forward[:, 0, 1], forward[:, 0, 0]))
    assert -7 - 1e-3 <= float(angles.min()) < -5 and 10 < float(angles.max()) <= 12 + 1e-3
    assert 0.2 < float(draw.applied.float().mean()) < 0.4  # p = 0.3

    crop, draw = sample(batched(one("RandomResizedCrop", size=(16, 16), scale=(0.4, 0.8)), 1))
    x0, y0, width, height = crop.boxes(draw, (16, 16)).unbind(1)
    area = width * height / 256
    assert float(area.min()) >= 0.4 - 0.1 and float(area.max()) <= 0.8 + 0.1  # rounded sides
    assert bool(((x0 >= 0) & (y0 >= 0) & (x0 + width <= 16) & (y0 + height <= 16)).all())
    assert bool((width == torch.round(width)).all())  # integer boxes, as albumentations

    colour, draw = sample(
        batched(one("RandomBrightnessContrast", brightness_limit=0.2, contrast_limit=(0, 0.5)), 1)
    )
    alpha, beta = colour.parameters(torch.rand(400, 1, 4, 4), draw)
    assert float(beta.min()) >= -0.2 and float(beta.max()) <= 0.2
    assert float(alpha.min()) >= 1.0 and float(alpha.max()) <= 1.5 and float(alpha.std()) > 0.1

    affine, draw = sample(batched(one("Affine", translate_px=(-2, 2), scale=(0.8, 1.2)), 1))
    forward = torch.linalg.inv(affine.inverse_map(draw, (16, 16)))
    scale = forward[:, 0, 0]  # no rotation or shear: the x scale
    assert float(scale.min()) >= 0.8 - 1e-4 and float(scale.max()) <= 1.2 + 1e-4


# ---------------------------------------------------------------------------------------------
# Seeding: per (seed, epoch, row), whatever the batching


def test_each_image_depends_on_its_seed_epoch_and_row_only():
    augmenter = make_augmenter(BATCHED, tiny_store(16), seed=0)
    assert isinstance(augmenter, BatchAugmenter)
    x, rows = torch.rand(16, 1, 8, 8), torch.arange(100, 116)
    whole = augmenter(x, rows, 1)
    parts = torch.cat([augmenter(x[i : i + 5], rows[i : i + 5], 1) for i in range(0, 16, 5)])
    torch.testing.assert_close(whole, parts)
    assert not torch.allclose(whole, augmenter(x, rows, 2))
    other = make_augmenter(BATCHED, tiny_store(16), seed=1)
    assert not torch.allclose(whole, other(x, rows, 1))


def images_by_example(batches, epoch: int) -> dict[int, torch.Tensor]:
    """Augmented image per example (the targets are example positions), for one epoch."""
    batches.set_epoch(epoch)
    return {int(y): x for xs, ys in batches for x, y in zip(xs, ys, strict=True)}


def test_batch_size_chunking_streaming_and_world_size_do_not_change_the_images():
    store = tiny_store(60)
    rows = split_rows(store, "train")
    positions = np.arange(len(rows))
    augmenter = make_augmenter(BATCHED, store, seed=5)

    def in_memory(batch_size, shard=None):
        return TensorBatches.from_store(
            store, rows, batch_size, CPU, True, 5, positions, shard or Shard(), augment=augmenter
        )

    small = in_memory(4)
    small.chunk = 4  # one batch per chunk
    reference = images_by_example(small, 1)
    streamed = StoreBatches(store, rows, 7, CPU, True, 5, 0, positions, augment=augmenter)
    halves = {**images_by_example(in_memory(6, Shard(0, 2)), 1)}
    halves |= images_by_example(in_memory(6, Shard(1, 2)), 1)
    for other in (images_by_example(in_memory(30), 1), images_by_example(streamed, 1), halves):
        assert other.keys() == reference.keys() == set(positions.tolist())
        assert all(torch.allclose(other[k], reference[k], atol=1e-6) for k in reference)
    assert not torch.allclose(images_by_example(small, 2)[0], reference[0])


def test_streamed_chunks_keep_each_batchs_own_examples():
    store = tiny_store(60)
    rows = split_rows(store, "train")
    positions = np.arange(len(rows))
    augmenter = make_augmenter(BATCHED, store, seed=5)
    plain = StoreBatches(store, rows, 4, CPU, True, 5, 0, positions)
    streamed = StoreBatches(store, rows, 4, CPU, True, 5, 0, positions, augment=augmenter)
    streamed.loader.sampler.rows = 12  # chunks of 3 batches
    for batches in (plain, streamed):
        batches.set_epoch(3)
    members = [[sorted(y.tolist()) for _, y in batches] for batches in (plain, streamed)]
    assert members[0] == members[1] and len(members[0]) == streamed.num_batches


# ---------------------------------------------------------------------------------------------
# Backend choice


def test_auto_picks_batched_when_everything_translates_else_albumentations():
    store = tiny_store(12)
    assert isinstance(make_augmenter(AugmentParams(enabled=True), store, 0), BatchAugmenter)
    noise = [{"name": "GaussNoise", "p": 0.2}]
    auto = AugmentParams(enabled=True, transforms=noise)
    assert isinstance(make_augmenter(auto, store, 0), Augmenter)
    forced = AugmentParams(enabled=True, backend="albumentations")
    assert isinstance(make_augmenter(forced, store, 0), Augmenter)
    reflect101 = AugmentParams(enabled=True, transforms=[{"name": "Rotate", "border_mode": 4}])
    assert isinstance(make_augmenter(reflect101, store, 0), Augmenter)


def test_batched_with_an_untranslatable_transform_is_a_params_error(default_params):
    default_params["train"]["augment"].update(
        backend="batched", transforms=[{"name": "GaussNoise", "p": 0.2}]
    )
    message = r"transforms\[0\]: GaussNoise has no batched translation.*backend: albumentations"
    with pytest.raises(ParamsError, match=message):
        validate_params(default_params)
    params = AugmentParams(enabled=True, backend="batched", transforms=[{"name": "GaussNoise"}])
    with pytest.raises(ParamsError, match=message):
        make_augmenter(params, tiny_store(12), 0)


# ---------------------------------------------------------------------------------------------
# Train split only


def test_batched_augmentation_reaches_the_training_batches_only():
    store = tiny_store(48)
    params = TrainParams(architectures=["deep_nn"], batch_size=8, augment=BATCHED.model_dump())
    augmenter = make_augmenter(params.augment, store, params.seed)
    batches = SplitBatches(store, params, CPU, DistributedContext(), augmenter=augmenter)
    assert batches.augment_workers == 0  # nothing runs in worker processes
    training = batches.training()
    assert isinstance(training, TensorBatches) and training.augment is augmenter
    seen = torch.cat([x for x, _ in training])
    assert seen.shape == (len(batches.train_rows), 1, 8, 8)
    for name, monitor in batches.monitor().items():
        assert getattr(monitor, "augment", None) is None
        rows = split_rows(store, "train" if name == "train" else name)
        stored = to_model_input(torch.from_numpy(np.asarray(store.pixels[rows])), 16)
        assert torch.equal(torch.cat([x for x, _ in monitor]), stored), name


def test_host_draws_are_the_device_draws():
    """Per-image parameters are computed in NumPy: from the very same numbers."""
    keys = row_keys(7, 3, torch.arange(500))
    host = row_keys(7, 3, np.arange(500))
    assert host.dtype == np.uint64 and np.array_equal(host, keys.numpy().astype(np.uint64))
    np.testing.assert_allclose(
        normals_host(host, 9, 3), normals(keys, 9, (3,)).double().numpy(), rtol=1e-5, atol=1e-6
    )
    assert np.array_equal(uniforms_host(host, 17, 9), uniforms(keys, 17, (9,)).double().numpy())
    assert np.array_equal(
        half_uniforms_host(host, 5, 7), half_uniforms(keys, 5, (7,)).double().numpy()
    )
    firsts = first_uniforms_host(host, [1, 17, 33])
    for column, stream in enumerate([1, 17, 33]):
        assert np.array_equal(firsts[:, column], uniforms(keys, stream, (1,))[:, 0].numpy())


def test_row_keys_differ_for_neighbouring_rows_epochs_and_seeds():
    rows = torch.arange(1000)
    keys = {tuple(row_keys(seed, epoch, rows).tolist()) for seed in (0, 1) for epoch in (1, 2)}
    assert len(keys) == 4
    assert len(set(row_keys(0, 1, rows).tolist())) == 1000
    assert math.isclose(float((row_keys(0, 1, rows) & 1).float().mean()), 0.5, abs_tol=0.06)


def test_crop_boxes_draw_all_ten_tries_only_where_the_first_does_not_fit():
    """A box is the first fitting try of the 10 albumentations makes, whichever rows needed
    more than one: the same boxes as drawing every try for every row."""
    augmenter = batched(one("RandomResizedCrop", size=(8, 8), scale=(0.8, 1.0), ratio=(0.5, 2)), 1)
    crop = augmenter.steps[0]
    keys = row_keys(augmenter.seed, 1, np.arange(2000))
    draw = HostDraw(keys, augmenter.stream(0))
    every_try = half_uniforms_host(keys, draw.stream + 3_000_017, 40).reshape(-1, 10, 4)
    expected, fitted = crop._first_fit(every_try, (8, 8))
    first_try = crop._first_fit(every_try[:, :1], (8, 8))[1]
    assert 0.1 < first_try.mean() < 0.9  # many rows need a second try
    assert not fitted.all()  # and some fit none: the central crop
    assert np.array_equal(crop.boxes(draw, (8, 8)).numpy(), expected.astype(np.float32))


def test_affine_maps_of_planar_points_are_the_matrix_product():
    generator = torch.Generator().manual_seed(0)
    matrices = torch.randn(5, 3, 3, generator=generator)
    matrices[:, 2] = torch.tensor([0.0, 0.0, 1.0])
    planar = torch.randn(5, 2, 12, generator=generator)
    homogeneous = torch.cat([planar, torch.ones(5, 1, 12)], dim=1)
    torch.testing.assert_close(_apply(matrices, planar), (matrices @ homogeneous)[:, :2])
    base = homogeneous[0]  # a (3, HW) grid shared by every image
    torch.testing.assert_close(_apply(matrices, base), (matrices @ base)[:, :2])
