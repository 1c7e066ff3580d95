"""Classification's scoring: softmax predictions, scikit-learn's metrics, a wrong label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from traindev.config import EvaluateParams
from traindev.data.store import SPLITS, ImageStore
from traindev.evaluation.bootstrap import per_class_intervals
from traindev.evaluation.diagnosis import diagnose_per_class
from traindev.evaluation.metrics import confusion_table, split_metrics
from traindev.evaluation.plot_data import confusion_rows
from traindev.evaluation.predict import predict_probabilities
from traindev.evaluation.weights import example_weights
from traindev.tasks.base import Scores


def score(
    model: torch.nn.Module,
    store: ImageStore,
    rows: np.ndarray,
    evaluate: EvaluateParams,
    device: torch.device,
    *,
    checkpoint: object = None,
) -> Scores:
    """Softmax predictions on `rows`: metrics per split with the weighted and per-class
    errors, the dev confusion matrix and the per-class diagnosis (a softmax needs nothing
    from the checkpoint)."""
    del checkpoint
    weights = example_weights(
        store.manifest["label"],
        store.manifest["tags"],
        evaluate.error_weights.classes,
        evaluate.error_weights.tags,
        store.classes,
    )[rows]
    probabilities = predict_probabilities(model, store, device, evaluate.batch_size, rows)
    manifest = store.manifest.iloc[rows]
    y_true = store.label_indices(rows)
    y_pred = probabilities.argmax(axis=1)
    split = manifest["split"].to_numpy()
    per_split = {
        name: split_metrics(
            y_true[split == name], y_pred[split == name], weights[split == name], store.classes
        )
        for name in SPLITS
    }
    settings = evaluate.diagnosis
    per_class = diagnose_per_class(
        per_class_intervals(
            y_true,
            y_pred,
            split,
            store.classes,
            evaluate.human_level_error,
            settings.bootstrap_replicates,
            settings.confidence,
            settings.seed,
        ),
        settings,
    )
    confusion = confusion_table(y_true[split == "dev"], y_pred[split == "dev"], store.classes)
    predictions = pd.DataFrame(
        {
            "row": rows,
            "id": manifest["id"].to_numpy(),
            "split": split,
            "domain": manifest["domain"].to_numpy(),
            "label": manifest["label"].to_numpy(),
            "prediction": np.asarray(store.classes, dtype=object)[y_pred],
            "confidence": probabilities.max(axis=1),
            "weight": weights,
        }
    )
    return Scores(
        rows=rows,
        split=split,
        wrong=y_true != y_pred,
        per_split=per_split,
        predictions=predictions,
        outputs=probabilities,
        confusion=confusion,
        confusion_rows=confusion_rows(confusion),
        diagnosis_extra={"per_class": [entry.as_dict() for entry in per_class]},
    )
