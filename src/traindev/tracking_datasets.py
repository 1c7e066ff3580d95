"""The splits a run saw, as MLflow datasets (the UI's Dataset column and filter).

Metadata only: the pixels stay in DVC's cache. Each split of the split store is one dataset,
named after the split, logged with the split as its context; its digest is DVC's hash of the
store directory (`traindev.data.dvc_hash`, the value dvc.lock records), so two runs on the
same split show the same dataset and a run can be matched to the `dvc.lock` that made its data.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import mlflow
import numpy as np
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.types import Schema, TensorSpec

from traindev.data.store import SPLITS, ImageStore


class SplitDataset(MetaDataset):
    """One split: its pixels' schema (uint8 NHWC), its size and domains as the profile."""

    def __init__(self, store: ImageStore, split: str, digest: str) -> None:
        rows = store.manifest[store.manifest["split"] == split]
        self._profile = {
            "num_rows": len(rows),
            "domains": {str(k): int(v) for k, v in rows["domain"].value_counts().items()},
        }
        schema = Schema([TensorSpec(np.dtype(np.uint8), (-1, *store.pixels.shape[1:]), "pixels")])
        with warnings.catch_warnings():  # "can be interpreted in multiple ways": local either way
            warnings.simplefilter("ignore", UserWarning)
            source = resolve_dataset_source(str(Path(store.path).resolve()))
        super().__init__(source, name=split, digest=digest, schema=schema)

    @property
    def profile(self) -> dict:
        return self._profile

    def to_dict(self) -> dict[str, str]:
        """MetaDataset's fields and the profile, which it leaves out."""
        return {**super().to_dict(), "profile": json.dumps(self._profile)}


def log_split_datasets(store: ImageStore, digest: str) -> None:
    """Each non-empty split as an input of the active run, its context the split's name."""
    present = [split for split in SPLITS if (store.manifest["split"] == split).any()]
    mlflow.log_inputs(
        datasets=[SplitDataset(store, split, digest) for split in present],
        contexts=present,
        tags_list=[None] * len(present),
    )
