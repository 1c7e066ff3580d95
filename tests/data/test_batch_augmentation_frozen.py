"""data/batch_augmentation.py is frozen: it keeps today's transforms and size, no more.

Why (docs/augmentation-backend.md): measured against kornia.augmentation and albumentations on
digits and on 64x64 / 224x224 RGB, it stays for the classification preset it already covers;
new transforms, and every box- or mask-aware augmentation, come from a library
(`traindev.data.geometric_targets`, kornia), not from more code here.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from traindev.data import batch_augmentation

DECISION = "docs/augmentation-backend.md"
FROZEN_LINES = 991  # its length when it was frozen (issue 17, item 9)
FROZEN_TRANSFORMS = frozenset(
    {
        "RandomResizedCrop",
        "Rotate",
        "Affine",
        "HorizontalFlip",
        "VerticalFlip",
        "ElasticTransform",
        "RandomBrightnessContrast",
        "RGBShift",
        "FancyPCA",
    }
)
FROZEN_STEPS = frozenset(
    {
        "CropStep",
        "RotateStep",
        "AffineStep",
        "FlipStep",
        "ElasticStep",
        "BrightnessContrastStep",
        "ShiftStep",
        "FancyPCAStep",
    }
)
WHY = (
    f"data/batch_augmentation.py is frozen ({DECISION}): add transforms through a library "
    "(kornia.augmentation, as traindev.data.geometric_targets does, or albumentations per "
    "image), not here"
)


def test_it_translates_no_transform_beyond_todays():
    added = set(batch_augmentation.STEPS) - FROZEN_TRANSFORMS
    assert not added, f"{WHY}; new batched translations: {sorted(added)}"


def test_it_defines_no_step_class_beyond_todays():
    steps = {
        name
        for name, value in vars(batch_augmentation).items()
        if inspect.isclass(value)
        and issubclass(value, batch_augmentation.Step)
        and value is not batch_augmentation.Step
    }
    assert steps <= FROZEN_STEPS, f"{WHY}; new step classes: {sorted(steps - FROZEN_STEPS)}"


def test_it_does_not_grow():
    lines = len(Path(batch_augmentation.__file__).read_text().splitlines())
    assert lines <= FROZEN_LINES, f"{WHY}; it has {lines} lines, frozen at {FROZEN_LINES}"
