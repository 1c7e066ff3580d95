"""Augmentation: declared in params, checked against albumentations, train split only, seeded."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from helpers.image_stores import tiny_store

from traindev.config import AugmentParams, ParamsError, TrainParams
from traindev.data.augmentation import (
    make_augmenter,
    preset_specs,
    preview,
    resolve_specs,
)
from traindev.data.batches import StoreBatches, split_rows, to_model_input
from traindev.params_file import validate_params
from traindev.stages.train import SplitBatches
from traindev.training.distributed import DistributedContext

CPU = torch.device("cpu")
ON = AugmentParams(enabled=True, backend="albumentations")  # the per-image worker path


def with_transforms(default_params: dict, transforms: list, **augment) -> dict:
    default_params["train"]["augment"].update(transforms=transforms, **augment)
    return default_params


# ---------------------------------------------------------------------------------------------
# Validated from params, against albumentations


def test_an_unknown_transform_is_a_params_error_suggesting_the_nearest(default_params):
    raw = with_transforms(default_params, [{"name": "Rotate"}, {"name": "GausNoise"}])
    with pytest.raises(
        ParamsError, match=r"train\.augment\.transforms\[1\]\.name: 'GausNoise' .*'GaussNoise'"
    ):
        validate_params(raw)


def test_an_old_or_unknown_argument_is_named_instead_of_silently_ignored(default_params):
    transforms = [{"name": "Rotate"}, {"name": "Affine"}, {"name": "GaussNoise", "var_limit": 9}]
    with pytest.raises(
        ParamsError, match=r"transforms\[2\]\.var_limit: .*1\.x name .*use std_range"
    ):
        validate_params(with_transforms(default_params, transforms))
    typo = [{"name": "OneOf", "transforms": [{"name": "GridDistortion", "num_step": 3}]}]
    with pytest.raises(
        ParamsError, match=r"transforms\[0\]\.transforms\[0\]\.num_step: .*'num_steps'"
    ):
        validate_params(with_transforms(default_params, typo))


def test_a_bad_argument_value_is_a_params_error_and_tuning_a_preset_one_is_checked_merged(
    default_params,
):
    bad = [{"name": "GaussNoise", "std_range": [0.5, 0.1]}]
    with pytest.raises(ParamsError, match=r"transforms\[0\]: GaussNoise rejects its arguments"):
        validate_params(with_transforms(default_params, bad))
    tuned = [{"name": "RandomResizedCrop", "scale": [0.5, 1.0]}]  # size comes from the preset
    validate_params(with_transforms(default_params, tuned))


def test_label_changing_transforms_need_the_explicit_flag(default_params):
    flips = [{"name": "HorizontalFlip", "p": 0.5}]
    with pytest.raises(
        ParamsError, match=r"a mirrored 2 or 7 is not a 2 or 7.*allow_label_changing"
    ):
        validate_params(with_transforms(default_params, flips))
    params = validate_params(with_transforms(default_params, flips, allow_label_changing=True))
    assert params.train.augment.transforms == flips


def test_augmentation_with_cached_features_is_refused():
    with pytest.raises(ValueError, match=r"augment\.enabled with transfer\.cache_features"):
        TrainParams(
            architectures=["deep_nn"],
            augment={"enabled": True},
            transfer={
                "init_from": {"deep_nn": "x.pt"},
                "trainable_layers": 1,
                "cache_features": True,
            },
        )


def test_the_notes_preset_builds_and_transforms_tune_or_extend_it():
    names = [spec.name for spec in preset_specs("notes", (1, 8, 8))]
    assert names[-1] == "FancyPCA" and "RandomBrightnessContrast" in names
    assert "RGBShift" in [spec.name for spec in preset_specs("notes", (3, 8, 8))]
    params = AugmentParams(
        enabled=True,
        transforms=[{"name": "Rotate", "limit": 30}, {"name": "GaussNoise", "p": 0.2}],
    )
    specs = resolve_specs(params, (1, 8, 8))
    rotate = next(spec for spec in specs if spec.name == "Rotate")
    assert rotate.args == {"limit": 30, "p": 0.5} and rotate.where.endswith("transforms[0]")
    assert [spec.name for spec in specs] == [*names, "GaussNoise"]


def test_a_transform_that_changes_the_image_size_is_named_before_training():
    params = AugmentParams(
        enabled=True, preset="none", transforms=[{"name": "Resize", "height": 16, "width": 16}]
    )
    with pytest.raises(ParamsError, match=r"transforms\[0\]: Resize turns 8x8x1 images into 16x16"):
        make_augmenter(params, tiny_store(), seed=0)


# ---------------------------------------------------------------------------------------------
# Applied: contract, seeding


@pytest.mark.parametrize(("channels", "pixel_max"), [(1, 16), (3, 255)])
def test_the_preset_keeps_shape_and_gives_float_pixels_in_0_1(channels, pixel_max):
    store = tiny_store(16, side=16, channels=channels, pixel_max=pixel_max)
    augmenter = make_augmenter(ON, store, seed=0)
    rows = np.arange(16)
    out = augmenter(np.asarray(store.pixels[rows]), rows, epoch=1)
    assert out.shape == store.pixels.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.allclose(out, store.pixels / pixel_max)  # something was augmented


def test_same_seed_epoch_and_image_give_the_same_pixels_and_a_new_epoch_new_ones():
    store = tiny_store(16)
    rows = np.arange(16)
    pixels = np.asarray(store.pixels)
    first = make_augmenter(ON, store, seed=0)
    again = pickle.loads(pickle.dumps(first))  # as a spawned worker would receive it
    assert np.array_equal(first(pixels, rows, 1), again(pixels, rows, 1))
    assert not np.array_equal(first(pixels, rows, 1), first(pixels, rows, 2))
    assert not np.array_equal(first(pixels, rows, 1), make_augmenter(ON, store, 1)(pixels, rows, 1))
    # Each image depends on its own row only, not on the rest of the batch.
    assert np.array_equal(first(pixels[3:5], rows[3:5], 1), first(pixels, rows, 1)[3:5])


def epoch_images(batches: StoreBatches, epoch: int) -> dict[int, np.ndarray]:
    """Augmented image per example (the targets are example positions), for one epoch."""
    batches.set_epoch(epoch)
    return {int(y): x.numpy() for xs, ys in batches for x, y in zip(xs, ys, strict=True)}


def test_worker_count_and_batch_size_do_not_change_the_augmented_images():
    store = tiny_store(40)
    rows = split_rows(store, "train")
    positions = np.arange(len(rows))
    augmenter = make_augmenter(ON, store, seed=5)
    inline = StoreBatches(store, rows, 8, CPU, True, 5, 0, positions, augment=augmenter)
    workers = StoreBatches(store, rows, 5, CPU, True, 5, 2, positions, augment=augmenter)
    for epoch in (1, 2):
        a, b = epoch_images(inline, epoch), epoch_images(workers, epoch)
        assert a.keys() == b.keys() == set(positions.tolist())
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(epoch_images(inline, 1)[0], epoch_images(inline, 2)[0])


# ---------------------------------------------------------------------------------------------
# Train split only


def test_only_the_training_batches_are_augmented_never_a_measured_split():
    store = tiny_store(48)
    params = TrainParams(
        architectures=["deep_nn"],
        batch_size=8,
        augment={"enabled": True, "backend": "albumentations"},
    )
    augmenter = make_augmenter(params.augment, store, params.seed)
    batches = SplitBatches(store, params, CPU, DistributedContext(), augmenter=augmenter)
    training = batches.training()
    assert isinstance(training, StoreBatches) and training.loader.num_workers >= 1
    assert training.dataset.augment is augmenter
    for name, monitor in batches.monitor().items():
        split = "train" if name == "train" else name
        rows = split_rows(store, split)
        stored = to_model_input(torch.from_numpy(np.asarray(store.pixels[rows])), 16)
        seen = torch.cat([x for x, _ in monitor])
        assert torch.equal(seen, stored), f"{name} was not read as stored"


def test_augmentation_off_builds_nothing():
    assert make_augmenter(AugmentParams(), tiny_store(), seed=0) is None
    assert not preview(AugmentParams(), tiny_store(), seed=0).enabled


@pytest.mark.parametrize("backend", ["albumentations", "batched"])
def test_the_preview_has_a_row_per_transform_and_the_whole_pipeline(backend):
    store = tiny_store(24)
    shown = preview(AugmentParams(enabled=True, backend=backend), store, seed=0, examples=3)
    labels = [label for label, _ in shown.rows]
    assert len(labels) == len(preset_specs("notes", (1, 8, 8))) + 1
    assert labels[0].startswith("RandomResizedCrop(size=(8, 8)") and "p=" not in labels[0]
    assert shown.originals.shape == (3, 8, 8, 1)
    assert all(images.shape == (3, 8, 8, 1) for _, images in shown.rows)
