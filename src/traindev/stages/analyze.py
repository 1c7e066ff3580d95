"""`traindev analyze --arch NAME`: the notes' error analysis, label issues and data mismatch.

Reads what `evaluate` predicted (never re-scores), so its numbers agree with the bias /
variance table. Writes a directory the user opens (sheets, HTML views, thumbnails) and one
JSON summary DVC tracks as a metric; a reviewed sheet under `analyze.errors.review_dir` is
read back into the notes' category table with its ceilings.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from traindev import paths
from traindev.analysis.features import penultimate_features
from traindev.analysis.label_issues import (
    LabelIssues,
    label_error_impact,
    suspect_label_issues,
    train_label_issues,
)
from traindev.analysis.mismatch import mismatch_check
from traindev.analysis.properties import measure_images, property_flags
from traindev.analysis.review import (
    ReviewError,
    category_table,
    correct_review_summary,
    read_review,
)
from traindev.analysis.sheet import build_sheet, sample_by_id, sheet_categories, write_sheet
from traindev.analysis.thumbnails import write_thumbnails
from traindev.atomic import atomic_directory, write_json
from traindev.config import AnalyzeParams, Params
from traindev.data.store import ImageStore, read_store
from traindev.stages.evaluate import PREDICTIONS_FILE, PROBABILITIES_FILE
from traindev.stages.train import TRAINING_FILE
from traindev.tracking import open_run
from traindev.training.checkpoint import CHECKPOINT_FILE, load_checkpoint
from traindev.training.runtime import select_device

ERRORS_SHEET = "errors"
CORRECT_SHEET = "correct"
LABEL_ISSUES_FILE = "label_issues.csv"
TOP_SUSPECTS = 20


def run(params: Params, architecture: str) -> str:
    settings = params.analyze
    store = read_store(paths.SPLIT)
    evaluation = paths.evaluation_dir(architecture)
    predictions = pd.read_parquet(evaluation / PREDICTIONS_FILE)
    probabilities = np.load(evaluation / PROBABILITIES_FILE)
    if len(predictions) != len(probabilities):
        raise ValueError(
            f"{evaluation}: {PREDICTIONS_FILE} has {len(predictions)} rows but "
            f"{PROBABILITIES_FILE} has {len(probabilities)}; re-run `dvc repro`"
        )
    predictions["tags"] = store.manifest["tags"].to_numpy()[predictions["row"].to_numpy()]
    dev = predictions[predictions["split"] == "dev"]
    if dev.empty:
        raise ValueError(f"{paths.SPLIT}: the dev split is empty; check the split params")
    wrong = dev["label"] != dev["prediction"]
    dev_error = float(wrong.mean())

    issues = (
        _label_issues(store, predictions, probabilities, settings)
        if (settings.label_issues.enabled)
        else None
    )
    suspected_ids = {} if issues is None else dict(zip(issues.ids, issues.rank, strict=True))
    measures = measure_images(store.pixels[dev["row"].to_numpy()], store.pixel_max)
    properties = property_flags(measures, measures, settings.errors.property_quantile)
    flags = properties.flags.set_axis(dev.index)

    sheets = {
        ERRORS_SHEET: dev[wrong].iloc[
            sample_by_id(
                dev.loc[wrong, "id"].tolist(), settings.errors.sample_size, settings.errors.seed
            )
        ],
        CORRECT_SHEET: dev[~wrong].iloc[
            sample_by_id(
                dev.loc[~wrong, "id"].tolist(),
                settings.errors.correct_sample_size,
                settings.errors.seed,
            )
        ],
    }
    model = None
    if settings.mismatch.enabled or settings.label_issues.train_folds > 1:
        model = load_checkpoint(paths.model_dir(architecture) / CHECKPOINT_FILE).build()
    mismatch = _mismatch(model, store, predictions, params) if settings.mismatch.enabled else None
    train_issues = (
        _train_label_issues(model, store, params) if settings.label_issues.train_folds > 1 else None
    )
    review_dir = Path(settings.errors.review_dir) / architecture
    review = _read_reviews(review_dir, settings, dev_error, dev, wrong, store)

    summary = {
        "architecture": architecture,
        "dev_error": dev_error,
        "misclassified_dev": int(wrong.sum()),
        "property_thresholds": _describe_thresholds(properties.as_dict()),
        **review,
    }
    out = paths.analysis_dir(architecture)
    with atomic_directory(out) as staging:
        for name, frame in sheets.items():
            sheet = build_sheet(
                frame, flags.loc[frame.index], settings.errors.categories, suspected_ids
            )
            write_sheet(
                sheet,
                store.pixels[predictions.loc[sheet.index, "row"].to_numpy()],
                store.pixel_max,
                staging,
                name,
                f"{architecture}: {name} sample of the dev set",
            )
            summary[f"{name}_sheet"] = {
                "csv": f"{name}.csv",
                "html": f"{name}.html",
                "rows": len(sheet),
            }
        if issues is not None:
            summary["label_issues"] = _label_summary(
                issues, predictions, wrong, dev, settings, store.classes
            )
            _thumbnails(store, predictions, list(issues.ids[:TOP_SUSPECTS]), staging)
            issues.as_frame(store.classes).drop(columns=["row"]).to_csv(
                staging / LABEL_ISSUES_FILE, index=False
            )
        else:
            summary["label_issues"] = None
        summary["train_label_issues"] = train_issues
        if train_issues is not None:
            ids = [row["id"] for row in train_issues["top"]]
            _thumbnails(
                store, store.manifest.assign(row=np.arange(len(store.manifest))), ids, staging
            )
        summary["mismatch"] = mismatch
        if mismatch is not None:
            _thumbnails(store, predictions, [row["id"] for row in mismatch["gallery"]], staging)
    write_json(paths.analysis_file(architecture), summary)
    _log_to_mlflow(architecture, summary)
    return _headline(architecture, summary)


def _label_issues(
    store: ImageStore,
    predictions: pd.DataFrame,
    probabilities: np.ndarray,
    settings: AnalyzeParams,
) -> LabelIssues:
    """cleanlab on dev and test together: both are out-of-sample for the model."""
    held_out = predictions["split"].isin(["dev", "test"]).to_numpy()
    labels = pd.Categorical(predictions.loc[held_out, "label"], categories=store.classes).codes
    return suspect_label_issues(
        labels.astype(np.int64), probabilities[held_out], predictions.loc[held_out, "id"].tolist()
    )


def _label_summary(
    issues: LabelIssues,
    predictions: pd.DataFrame,
    wrong: pd.Series,
    dev: pd.DataFrame,
    settings: AnalyzeParams,
    classes: list[str],
) -> dict:
    suspected = set(issues.ids)
    split_of = dict(zip(predictions["id"], predictions["split"], strict=False))
    impact = label_error_impact(
        wrong.to_numpy(),
        dev["id"].isin(suspected).to_numpy(),
        settings.label_issues.worth_fixing_share,
        max_model_error=settings.label_issues.max_model_error,
    )
    top = _suspect_rows(issues, classes, split_of)
    return {
        "suspected_dev": sum(split_of.get(i) == "dev" for i in suspected),
        "suspected_test": sum(split_of.get(i) == "test" for i in suspected),
        "impact": impact.as_dict(),
        "top": top,
    }


def _mismatch(model, store: ImageStore, predictions: pd.DataFrame, params: Params) -> dict:
    settings = params.analyze.mismatch
    device = select_device("auto")
    rows = {
        name: predictions.loc[predictions["split"] == name, "row"].to_numpy()
        for name in ("train_dev", "dev")
    }
    features = {
        name: penultimate_features(model, store, split_rows, device, params.evaluate.batch_size)
        for name, split_rows in rows.items()
    }
    result = mismatch_check(
        features["train_dev"],
        features["dev"],
        rows["dev"],
        settings.folds,
        settings.max_per_split,
        params.analyze.errors.seed,
    )
    by_row = predictions.set_index("row")
    top_rows = result.most_unlike(settings.gallery_size)
    scores = result.most_unlike_scores(settings.gallery_size)
    record = {
        "auc": float(result.auc),
        "interval": [float(result.ci_low), float(result.ci_high)],
        "distinguishable": bool(result.distinguishable),
        "train_dev_examples": int(result.train_dev_examples),
        "dev_examples": int(result.dev_examples),
        "interpretation": result.interpretation,
    }
    record["gallery"] = [
        {
            "id": by_row.at[row, "id"],
            "label": by_row.at[row, "label"],
            "prediction": by_row.at[row, "prediction"],
            "score": float(score),
            "thumbnail": f"thumbnails/{by_row.at[row, 'id']}.png",
        }
        for row, score in zip(top_rows, scores, strict=True)
    ]
    return record


def _train_label_issues(model, store: ImageStore, params: Params) -> dict:
    """The optional K-fold check of the training labels on the model's own features."""
    settings = params.analyze.label_issues
    train_rows = np.flatnonzero(store.manifest["split"].to_numpy() == "train")
    sample = np.sort(
        np.random.default_rng(params.analyze.errors.seed).permutation(train_rows)[
            : settings.train_max_examples
        ]
    )
    features = penultimate_features(
        model, store, sample, select_device("auto"), params.evaluate.batch_size
    )
    ids = store.manifest["id"].to_numpy()[sample].tolist()
    issues = train_label_issues(
        features,
        store.label_indices(sample),
        ids,
        settings.train_folds,
        params.analyze.errors.seed,
        settings.train_max_examples,
    )
    return {
        "checked": int(issues.examined),
        "suspected": len(issues.ids),
        "folds": settings.train_folds,
        "note": issues.note,
        "top": _suspect_rows(issues, store.classes, dict.fromkeys(issues.ids, "train")),
    }


def _suspect_rows(issues: LabelIssues, classes: list[str], split_of: dict[str, str]) -> list:
    """The most suspicious examples, as the report lists them."""
    frame = issues.as_frame(classes).head(TOP_SUSPECTS)
    return [
        {
            "id": row.id,
            "split": split_of.get(row.id, ""),
            "label": row.given_class,
            "suggested": row.suggested_class,
            "quality": float(row.quality),
            "rank": int(row.rank),
            "thumbnail": f"thumbnails/{row.id}.png",
        }
        for row in frame.itertuples()
    ]


def _read_reviews(
    review_dir: Path,
    settings: AnalyzeParams,
    dev_error: float,
    dev: pd.DataFrame,
    wrong: pd.Series,
    store: ImageStore,
) -> dict:
    """The reviewed sheets when they exist; a hint (or, when required, an error) when not."""
    errors_path = review_dir / f"{ERRORS_SHEET}.csv"
    correct_path = review_dir / f"{CORRECT_SHEET}.csv"
    generated = paths.analysis_dir(review_dir.name) / f"{ERRORS_SHEET}.csv"
    hint = (
        f"No reviewed sheet at {errors_path}: copy {generated} there, tick the categories "
        "that apply to each example, and run `dvc repro`."
    )
    if settings.errors.require_review:
        for path in (errors_path, correct_path):
            if not path.is_file():
                raise ReviewError(
                    f"{path}: reviewed sheet missing and analyze.errors.require_review is true; "
                    f"copy {paths.analysis_dir(review_dir.name) / path.name} there and tick it"
                )
    result: dict = {"review": None, "review_hint": hint, "correct_review": None}
    categories = sheet_categories(settings.errors.categories)
    generated_dir = paths.analysis_dir(review_dir.name)
    if errors_path.is_file():
        review = read_review(errors_path, categories, generated_dir / errors_path.name)
        table = category_table(
            review, dev_error, set(dev.loc[wrong, "id"]), set(store.manifest["id"])
        )
        result["review"] = {
            "path": str(errors_path),
            "reviewed": table.reviewed,
            "table": [
                {
                    "category": row.name,
                    "count": row.count,
                    "percent_of_errors": row.percent_of_errors / 100.0,
                    "ceiling": row.ceiling,
                }
                for row in table.rows
            ],
            "stale_ids": list(table.stale_ids),
            "unknown_ids": list(table.unknown_ids),
            "skipped_columns": dict(table.skipped_columns),
        }
        result["review_hint"] = ""
    if correct_path.is_file():
        review = read_review(correct_path, categories, generated_dir / correct_path.name)
        summary = correct_review_summary(review, set(dev.loc[~wrong, "id"]))
        result["correct_review"] = {"path": str(correct_path), **summary}
    return result


def _describe_thresholds(flags: dict) -> dict[str, str]:
    """{"dark": "brightness < 0.123"}: what each computed category means on this dev set."""
    signs = {"below": "<", "above": ">"}
    return {
        name: f"{rule['measure']} {signs.get(rule['direction'], rule['direction'])} "
        f"{rule['value']:.3g}"
        for name, rule in flags["thresholds"].items()
    }


def _thumbnails(store: ImageStore, predictions: pd.DataFrame, ids: list[str], out: Path) -> None:
    rows = predictions.set_index("id").loc[list(ids), "row"].to_numpy()
    write_thumbnails(store.pixels[rows], list(ids), store.pixel_max, out)


def _log_to_mlflow(architecture: str, summary: dict) -> None:
    training = json.loads((paths.model_dir(architecture) / TRAINING_FILE).read_text())
    metrics = {"analysis.misclassified_dev": summary["misclassified_dev"]}
    if summary["label_issues"] is not None:
        impact = summary["label_issues"]["impact"]
        metrics |= {
            "analysis.label_issues.suspected_dev": summary["label_issues"]["suspected_dev"],
            "analysis.label_issues.share_of_errors": impact["share_of_errors"],
            "analysis.label_issues.error_without_suspected": impact["error_without_suspected"],
        }
    if summary["mismatch"] is not None:
        metrics["analysis.mismatch_auc"] = summary["mismatch"]["auc"]
    with open_run(training.get("run_id"), run_name=architecture):
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(paths.analysis_dir(architecture)), "analysis")
        mlflow.log_artifact(str(paths.analysis_file(architecture)), "analysis")


def _headline(architecture: str, summary: dict) -> str:
    parts = [
        f"{summary['errors_sheet']['rows']} of {summary['misclassified_dev']} dev errors "
        f"in {paths.analysis_dir(architecture) / 'errors.csv'}"
    ]
    if summary["label_issues"] is not None:
        parts.append(summary["label_issues"]["impact"]["sentence"])
    if summary["mismatch"] is not None:
        parts.append(f"train-dev vs dev AUC {summary['mismatch']['auc']:.2f}")
    if summary["review"] is not None:
        parts.append(f"{summary['review']['reviewed']} reviewed errors read back")
    return f"analyzed {architecture}: " + "; ".join(parts)
