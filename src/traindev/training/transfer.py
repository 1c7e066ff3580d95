"""Transfer learning as the notes describe it (course 3, week 2; course 4, week 2).

Start from a network trained on task A, replace its output layer for task B's classes,
freeze all but the last N layers (N = "all" fine-tunes everything), and train. With
only the new head trainable, the frozen network's activations can be computed once
and cached, so each epoch trains a single linear layer (the notes' speed-up).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from traindev import paths
from traindev.data.batches import BatchSource, TensorBatches
from traindev.training.checkpoint import Checkpoint, CheckpointError, load_checkpoint

# The train stage logs its model file into this MLflow artifact folder of its run.
CHECKPOINT_ARTIFACT_DIR = "checkpoint"
CHECKPOINT_ARTIFACT = f"{CHECKPOINT_ARTIFACT_DIR}/{paths.CHECKPOINT_FILE}"


def load_pretrained(source: str) -> Checkpoint:
    """A checkpoint file, or the checkpoint an MLflow run logged.

    MLflow sources: `runs:/<run_id>` (a trailing `/model` is accepted), or a registered
    model, `models:/<name>@<alias>` or `models:/<name>/<version>`, resolved to its run.
    """
    if not source.startswith(("runs:/", "models:/")):
        return load_checkpoint(Path(source))
    import mlflow

    from traindev.tracking import configure

    configure()
    try:
        run_id = _run_of(source)
        uri = f"runs:/{run_id}/{CHECKPOINT_ARTIFACT}"
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri)
    except mlflow.exceptions.MlflowException as exc:
        raise CheckpointError(
            f"train.transfer.init_from: cannot fetch the checkpoint of {source} ({exc})"
        ) from exc
    return load_checkpoint(Path(local))


def _run_of(source: str) -> str:
    from mlflow.tracking import MlflowClient

    if source.startswith("runs:/"):
        return source.removeprefix("runs:/").strip("/").split("/")[0]
    name, at, alias = source.removeprefix("models:/").partition("@")
    client = MlflowClient()
    if at:
        return client.get_model_version_by_alias(name, alias).run_id
    name, _, version = name.partition("/")
    return client.get_model_version(name, version).run_id


def output_layer(model: nn.Module) -> tuple[nn.Module, str, nn.Linear]:
    """(parent, attribute, layer) of the last Linear: every architecture here ends in one."""
    found = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            found = name
    if found is None:
        raise ValueError(f"{type(model).__name__} has no Linear output layer to replace")
    parent_name, _, attribute = found.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    return parent, attribute, getattr(parent, attribute)


def replace_output_layer(model: nn.Module, num_classes: int) -> nn.Linear:
    """Swap the output layer for a freshly initialized one with `num_classes` outputs."""
    parent, attribute, old = output_layer(model)
    head = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    head.to(device=old.weight.device, dtype=old.weight.dtype)
    setattr(parent, attribute, head)
    return head


def parameterized_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules that own parameters directly, in forward-definition order."""
    return [
        (name, module)
        for name, module in model.named_modules()
        if any(True for _ in module.parameters(recurse=False))
    ]


def freeze_all_but_last(model: nn.Module, trainable_layers: int | str) -> int:
    """Freeze every parameterized layer except the last N; returns N actually trainable."""
    layers = parameterized_layers(model)
    keep = len(layers) if trainable_layers == "all" else min(int(trainable_layers), len(layers))
    for index, (_, module) in enumerate(layers):
        for parameter in module.parameters(recurse=False):
            parameter.requires_grad_(index >= len(layers) - keep)
    return keep


class CachedFeatures:
    """The frozen body's activations, computed once, and the head trained on them."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        _, _, self.head = output_layer(model)
        self.body = copy.deepcopy(model)
        body_parent, attribute, _ = output_layer(self.body)
        setattr(body_parent, attribute, nn.Identity())
        self.body.eval()

    @torch.no_grad()
    def features(
        self, batches: BatchSource, batch_size: int, shuffle: bool = False, seed: int = 0
    ) -> TensorBatches:
        """The body's output for every example of `batches`, as batches for the head."""
        xs, ys = [], []
        for x, y in batches:
            xs.append(self.body(x))
            ys.append(y)
        return TensorBatches(torch.cat(xs), torch.cat(ys), batch_size, shuffle, seed)
