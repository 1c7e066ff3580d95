"""The logged and registered model: images as the store holds them in, class names out.

An MLflow pyfunc: `predict` takes a uint8 array of images in the store's layout and size
(N, H, W, C), the values the store holds (0..pixel_max: 16 for the embedded digits, 255 for
photos), applies the training preprocessing itself (`traindev.data.batches.to_model_input`:
NCHW, divided by pixel_max) and returns one row per image: the predicted class name
(`label`), its probability, and every class's probability (`proba_<class>`). Multi-label
models return one sigmoid probability per label (`proba_<label>`) and no label.

Logging costs no tracing or export: the artifacts are the checkpoint the train stage already
wrote (a state_dict, loaded with weights_only) and traindev's Python sources, so the model loads
where traindev is not installed. `unwrap_python_model().module` is the plain torch module, in
eval mode, for users who want it.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
import warnings
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any
from unittest import mock

import mlflow
import mlflow.utils.environment
import numpy as np
import pandas as pd
import torch
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema, TensorSpec

from traindev.data.batches import to_model_input
from traindev.training.checkpoint import Checkpoint, load_checkpoint

ARTIFACT = "checkpoint"
LABEL = "label"
PROBABILITY = "probability"
PROBA_PREFIX = "proba_"
# What importing traindev's model code needs, pinned to the versions that trained the model.
REQUIREMENTS = ("torch", "numpy", "pandas", "pyarrow", "pydantic", "xxhash", "tqdm")


def output_names(checkpoint: Checkpoint) -> list[str]:
    """The columns `predict` returns, in order."""
    probabilities = [
        f"{PROBA_PREFIX}{name}" for name in checkpoint.binary_labels or checkpoint.classes
    ]
    return probabilities if checkpoint.binary_labels else [LABEL, PROBABILITY, *probabilities]


def signature(checkpoint: Checkpoint) -> ModelSignature:
    """uint8 images (any batch size, the store's H, W, C) in; names and probabilities out."""
    channels, height, width = checkpoint.input_shape
    inputs = Schema([TensorSpec(np.dtype(np.uint8), (-1, height, width, channels))])
    columns = [
        ColSpec(DataType.string if name == LABEL else DataType.float, name)
        for name in output_names(checkpoint)
    ]
    return ModelSignature(inputs=inputs, outputs=Schema(columns))


def check_images(images: Any, checkpoint: Checkpoint) -> np.ndarray:
    """The batch as the model was trained on it, or a ValueError saying what differs."""
    channels, height, width = checkpoint.input_shape
    expected = (
        f"uint8 images of shape (N, {height}, {width}, {channels}) "
        f"with values 0..{checkpoint.pixel_max}"
    )
    if isinstance(images, pd.DataFrame):
        raise ValueError(f"expects a numpy array of {expected}, got a DataFrame")
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(
            f"expects {expected} (as the store holds them), got dtype {images.dtype}; "
            "do not scale or convert them, the model does it"
        )
    if images.ndim != 4 or images.shape[1:] != (height, width, channels):
        hint = " (one image: add a batch axis, images[None])" if images.ndim == 3 else ""
        raise ValueError(f"expects {expected}, got shape {images.shape}{hint}")
    if images.size and int(images.max()) > checkpoint.pixel_max:
        raise ValueError(
            f"expects {expected}, got values up to {int(images.max())}: these images are on "
            f"another scale; rescale them to 0..{checkpoint.pixel_max} as ingest does"
        )
    return images


class ImageClassifier(mlflow.pyfunc.PythonModel):
    """A trained traindev model behind MLflow's pyfunc interface."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.checkpoint = load_checkpoint(Path(context.artifacts[ARTIFACT]))
        self.module = self.checkpoint.build().eval()

    # The np.ndarray hint tells MLflow the signature (not type hints) describes the input.
    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext | None,
        model_input: np.ndarray,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        images = check_images(model_input, self.checkpoint)
        with torch.no_grad():
            pixels = torch.from_numpy(np.array(images, dtype=np.uint8))  # writable copy
            x = to_model_input(pixels, self.checkpoint.pixel_max)
            logits = self.module(x).float()
        if self.checkpoint.binary_labels:
            probabilities = torch.sigmoid(logits).numpy()
            return pd.DataFrame(probabilities, columns=output_names(self.checkpoint))
        probabilities = torch.softmax(logits, dim=1).numpy()
        best = probabilities.argmax(axis=1)
        names = output_names(self.checkpoint)
        frame = pd.DataFrame(probabilities, columns=names[2:])
        frame.insert(0, PROBABILITY, probabilities[np.arange(len(best)), best])
        frame.insert(0, LABEL, np.asarray(self.checkpoint.classes, dtype=object)[best])
        return frame


def requirements() -> list[str]:
    """Pinned pip requirements of the model's code (passing them saves MLflow's inference)."""
    pins = []
    for name in REQUIREMENTS:
        try:
            version = importlib.metadata.version(name).split("+")[0]
        except importlib.metadata.PackageNotFoundError:
            continue
        pins.append(f"{name}=={version}")
    return pins


def log_model(checkpoint_file: Path, checkpoint: Checkpoint, name: str = "model") -> None:
    """Log the pyfunc to the active run: the checkpoint file and traindev's sources."""
    package = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory() as scratch:
        code = Path(scratch) / package.name
        shutil.copytree(package, code, ignore=_not_python)
        with warnings.catch_warnings(), _pins_taken_from_this_environment():
            # no input example: saving one would run the model
            warnings.filterwarnings("ignore", ".*An input example was not provided")
            mlflow.pyfunc.log_model(
                name=name,
                python_model=ImageClassifier(),
                artifacts={ARTIFACT: str(checkpoint_file)},
                code_paths=[str(code)],
                signature=signature(checkpoint),
                pip_requirements=requirements(),
            )


# MLflow's check of `pip_requirements` against the installed packages (it warns on a mismatch).
MLFLOW_PIN_CHECK = "warn_dependency_requirement_mismatches"


def _pins_taken_from_this_environment() -> AbstractContextManager[object]:
    """Skip MLflow's re-check of `requirements()` against the installed packages.

    The check maps every installed distribution to its modules first
    (`importlib.metadata.packages_distributions`, about 1 s of each train stage here), and
    cannot fail for these pins: `requirements()` reads them from the same environment. A
    no-op while logging only; should MLflow drop the function, nothing is patched.
    """
    module = mlflow.utils.environment
    if not hasattr(module, MLFLOW_PIN_CHECK):
        return nullcontext()
    return mock.patch.object(module, MLFLOW_PIN_CHECK, _pins_match)


def _pins_match(requirements: list[str]) -> None:
    """The stand-in for MLflow's check: `requirements()` pins what is installed."""


def _not_python(directory: str, names: list[str]) -> set[str]:
    """shutil.copytree's filter: sources only (no caches, templates or data)."""
    return {
        name
        for name in names
        if name == "__pycache__"
        or (not name.endswith(".py") and not (Path(directory) / name).is_dir())
    }
