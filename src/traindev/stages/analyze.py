"""`traindev analyze --arch NAME`: the notes' error analysis, label issues and data mismatch.

Reads what `evaluate` predicted (never re-scores), so its numbers agree with the bias /
variance table. Writes a directory the user opens (sheets, HTML views, thumbnails) and one
JSON summary DVC tracks as a metric; a reviewed sheet under `analyze.errors.review_dir` is
read back into the notes' category table with its ceilings.
"""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from traindev import paths
from traindev.analysis.domain_grid import domain_samples
from traindev.analysis.features import penultimate_features
from traindev.analysis.label_issues import (
    FalseSuspects,
    LabelIssues,
    false_suspects,
    label_error_impact,
    suspect_label_issues,
    train_label_issues,
)
from traindev.analysis.mismatch import mismatch_by_domain, mismatch_check, mismatch_summary
from traindev.analysis.neighbours import NEIGHBOUR_FIELDS, nearest, neighbour_columns
from traindev.analysis.properties import (
    PropertyShift,
    measure_images,
    property_flags,
    property_shift,
)
from traindev.analysis.review import (
    ReviewError,
    category_table,
    correct_review_summary,
    read_review,
)
from traindev.analysis.sheet import (
    META_PREFIX,
    TRAIN_PREFIX,
    build_sheet,
    sample_by_id,
    sheet_categories,
    write_sheet,
)
from traindev.analysis.thumbnails import write_thumbnails
from traindev.atomic import atomic_directory
from traindev.config import AnalyzeParams, Params
from traindev.data.batches import sample_rows, split_rows
from traindev.data.store import ImageStore, read_store
from traindev.evaluation.multilabel import label_wrong, read_label_predictions
from traindev.records import write_record
from traindev.records.analysis import AnalysisRecord
from traindev.records.runs import training_run_id
from traindev.tracking import open_run
from traindev.training.checkpoint import load_checkpoint
from traindev.training.progress import PhaseLog
from traindev.training.runtime import select_device

ERRORS_SHEET = "errors"
CORRECT_SHEET = "correct"
TOP_SUSPECTS = 20
MULTITASK_NOTE_FILE = "README.txt"
SYNTHETIC_ORIGIN = "synthetic"  # the manifest's origin of synthesize-stage rows


def run(params: Params, architecture: str) -> str:
    settings = params.analyze
    log = PhaseLog(f"analyze {architecture}")
    evaluation = paths.evaluation_dir(architecture)
    checkpoint = load_checkpoint(paths.model_dir(architecture) / paths.CHECKPOINT_FILE)
    if checkpoint.binary_labels:
        predictions = pd.read_parquet(evaluation / paths.PREDICTIONS_FILE)
        return run_multilabel(architecture, checkpoint.binary_labels, predictions)
    if params.task == "detection":
        return run_detection(params, architecture)
    store = read_store(paths.SPLIT)
    predictions = pd.read_parquet(evaluation / paths.PREDICTIONS_FILE)
    probabilities = np.load(evaluation / paths.PROBABILITIES_FILE)
    if len(predictions) != len(probabilities):
        raise ValueError(
            f"{evaluation}: {paths.PREDICTIONS_FILE} has {len(predictions)} rows but "
            f"{paths.PROBABILITIES_FILE} has {len(probabilities)}; re-run `dvc repro`"
        )
    predictions = _with_manifest_columns(predictions, store)
    dev = predictions[predictions["split"] == "dev"]
    if dev.empty:
        raise ValueError(f"{paths.SPLIT}: the dev split is empty; check the split params")
    wrong = dev["label"] != dev["prediction"]
    dev_error = float(wrong.mean())

    held_out_rows = predictions.loc[predictions["split"].isin(["dev", "test"]), "row"].to_numpy()
    if settings.label_issues.enabled:
        log("label issues (cleanlab)")
    issues = (
        _label_issues(store, predictions, probabilities, held_out_rows)
        if settings.label_issues.enabled
        else None
    )
    suspected_ids = {} if issues is None else dict(zip(issues.ids, issues.rank, strict=True))
    measures = measure_images(store.pixels[dev["row"].to_numpy()], store.pixel_max)
    properties = property_flags(measures, measures, settings.errors.property_quantile)
    flags = properties.flags.set_axis(dev.index)
    pool = sample_rows(
        split_rows(store, "train"), settings.errors.neighbour_pool, settings.errors.seed
    )
    pool_measures = measure_images(store.pixels[pool], store.pixel_max)
    shifts, train_flags = _against_training(store, pool, pool_measures, measures, settings)
    train_flags = train_flags.set_axis(dev.index)

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
    log("error properties and sheets")
    model = None
    wants_neighbours = settings.errors.neighbours > 0 and len(pool) > 0
    if settings.mismatch.enabled or settings.label_issues.train_folds > 1 or wants_neighbours:
        model = checkpoint.build()
    sheet_rows = np.concatenate([frame["row"].to_numpy() for frame in sheets.values()])
    neighbours = _neighbours(model, store, pool, sheet_rows, params) if wants_neighbours else None
    # Each optional part: its JSON record and the store rows of the examples it shows.
    if settings.mismatch.enabled:
        log(f"data-mismatch classifier ({settings.mismatch.folds} folds)")
    mismatch, gallery_rows = (
        _mismatch(model, store, predictions, params) if settings.mismatch.enabled else (None, [])
    )
    if settings.label_issues.train_folds > 1:
        log(f"training-label check ({settings.label_issues.train_folds} folds)")
    train_issues, train_suspect_rows = (
        _train_label_issues(model, store, params)
        if settings.label_issues.train_folds > 1
        else (None, [])
    )
    review = _read_reviews(architecture, settings, dev_error, dev, wrong, store)

    summary = {
        "architecture": architecture,
        "dev_error": dev_error,
        "misclassified_dev": int(wrong.sum()),
        "property_thresholds": properties.describe(),
        "property_shift": [shift.as_dict() for shift in shifts],
        "neighbours": settings.errors.neighbours if wants_neighbours else 0,
        **review,
    }
    out = paths.analysis_dir(architecture)
    with atomic_directory(out) as staging:
        for name, frame in sheets.items():
            computed, neighbour_pixels = _train_columns(
                frame, train_flags, neighbours, store, settings.errors.neighbours
            )
            sheet = build_sheet(
                frame,
                flags.loc[frame.index],
                settings.errors.categories,
                suspected_ids,
                computed,
            )
            write_sheet(
                sheet,
                store.pixels[predictions.loc[sheet.index, "row"].to_numpy()],
                store.pixel_max,
                staging,
                name,
                f"{architecture}: {name} sample of the dev set",
                neighbour_pixels=neighbour_pixels,
            )
            summary[f"{name}_sheet"] = {
                "csv": f"{name}.csv",
                "html": f"{name}.html",
                "rows": len(sheet),
            }
        summary["label_issues"] = None
        if issues is not None:
            log(f"false-alarm count ({settings.label_issues.null_replicates} replicates)")
            summary["label_issues"] = _label_summary(
                issues,
                predictions,
                (probabilities, store.label_indices(held_out_rows)),
                store.label_indices(
                    predictions.loc[predictions["split"] == "train_dev", "row"].to_numpy()
                ),
                (dev, wrong),
                settings,
                store.classes,
            )
            _thumbnails(store, held_out_rows[issues.rows[:TOP_SUSPECTS]], staging)
            issues.as_frame(store.classes).drop(columns=["row"]).to_csv(
                staging / paths.LABEL_ISSUES_FILE, index=False
            )
        summary["train_label_issues"] = train_issues
        summary["mismatch"] = mismatch
        _thumbnails(store, train_suspect_rows, staging)
        _thumbnails(store, gallery_rows, staging)
        summary["domain_grid"] = _domain_grid(store, settings, staging)
    log("writing the record and logging to MLflow")
    write_record(paths.analysis_file(architecture), AnalysisRecord.model_validate(summary))
    _log_to_mlflow(architecture, summary)
    return _headline(architecture, summary)


def run_detection(params: Params, architecture: str) -> str:
    """Detection's analysis (tasks.detection.analysis) from evaluate's detections."""
    from traindev.tasks.detection.analysis import analyze_detections
    from traindev.tasks.detection.box_table import read_boxes

    store = read_store(paths.SPLIT)
    evaluation = paths.evaluation_dir(architecture)
    predictions = pd.read_parquet(evaluation / paths.PREDICTIONS_FILE)
    detections = pd.read_parquet(evaluation / paths.DETECTIONS_FILE)
    with atomic_directory(paths.analysis_dir(architecture)) as staging:
        record = analyze_detections(
            store,
            read_boxes(paths.SPLIT / paths.BOXES_FILE),
            detections,
            predictions,
            params.evaluate.detection.score_threshold,
            staging,
            seed=params.analyze.errors.seed,
        )
    write_record(paths.analysis_file(architecture), record)
    dev = record.splits.get("dev")
    if dev is None:
        return f"analyzed {architecture}: no dev images"
    typed = "" if record.tide is None else f", {sum(record.tide.counts.values())} TIDE errors"
    return (
        f"analyzed {architecture}: dev mAP@0.5 {dev.map_50:.3f}, "
        f"image error {dev.image_error:.3f}{typed}"
    )


def multilabel_note(architecture: str) -> str:
    predictions = paths.evaluation_dir(architecture) / paths.PREDICTIONS_FILE
    return (
        "Multi-label model: the error-analysis sheets, label-issue and mismatch checks are "
        f"single-label; per-label errors are in {paths.metrics_file(architecture)} "
        f"(splits.<split>.label_error) and {predictions}."
    )


def run_multilabel(architecture: str, names: list[str], predictions: pd.DataFrame) -> str:
    """The outputs DVC expects, small: the dev label count and a note of where to look."""
    where = paths.evaluation_dir(architecture) / paths.PREDICTIONS_FILE
    dev = predictions[predictions["split"] == "dev"]
    targets, probabilities = read_label_predictions(dev, names, where)
    wrong = int(label_wrong(targets, probabilities).sum())
    labels = int((~np.isnan(targets)).sum())
    note = multilabel_note(architecture)
    summary = {
        "architecture": architecture,
        "multilabel": True,
        "binary_labels": list(names),
        "note": note,
        "dev_error": wrong / labels if labels else None,
        "dev_labels": labels,
        "misclassified_dev": wrong,  # wrong (example, label) cells
        "errors_sheet": None,
        "correct_sheet": None,
        "property_thresholds": {},
        "review": None,
        "review_hint": "",
        "correct_review": None,
        "label_issues": None,
        "train_label_issues": None,
        "mismatch": None,
    }
    with atomic_directory(paths.analysis_dir(architecture)) as staging:
        (staging / MULTITASK_NOTE_FILE).write_text(note + "\n")
    write_record(paths.analysis_file(architecture), AnalysisRecord.model_validate(summary))
    _log_to_mlflow(architecture, summary)
    return f"analyzed {architecture}: {wrong} of {labels} dev labels wrong. {note}"


def _with_manifest_columns(predictions: pd.DataFrame, store: ImageStore) -> pd.DataFrame:
    """Each example's tags and `meta.*` manifest columns (ingest's extra columns, e.g. the
    source file), which the sheets show as error-analysis columns."""
    rows = predictions["row"].to_numpy()
    wanted = ["tags", *(c for c in store.manifest.columns if str(c).startswith(META_PREFIX))]
    carried = {column: store.manifest[column].to_numpy()[rows] for column in wanted}
    return predictions.drop(columns=wanted, errors="ignore").assign(**carried)


def _against_training(
    store: ImageStore,
    pool: np.ndarray,
    pool_measures: pd.DataFrame,
    dev_measures: pd.DataFrame,
    settings: AnalyzeParams,
) -> tuple[list[PropertyShift], pd.DataFrame]:
    """Dev's property shift against the training pool (and each training domain when there
    are several), and each dev image's flags with the whole pool as the reference."""
    quantile = settings.errors.property_quantile
    if len(pool) == 0:
        empty = pd.DataFrame(index=dev_measures.index)
        return [], empty
    references = {"all training": pool_measures}
    domains = store.manifest["domain"].astype(str).to_numpy()[pool]
    if len(set(domains)) > 1:
        references |= {
            domain: pool_measures[domains == domain].reset_index(drop=True)
            for domain in sorted(set(domains))
        }
    shifts = property_shift(dev_measures, references, quantile)
    flags = property_flags(dev_measures, pool_measures, quantile).flags
    return shifts, flags


def _neighbours(
    model, store: ImageStore, pool: np.ndarray, sheet_rows: np.ndarray, params: Params
) -> dict[int, np.ndarray]:
    """store row of a sheet example -> the store rows of its k nearest training examples."""
    device = select_device("auto")
    batch_size = params.evaluate.batch_size
    pool_features = penultimate_features(model, store, pool, device, batch_size)
    query = np.unique(sheet_rows)
    found = nearest(
        penultimate_features(model, store, query, device, batch_size),
        pool_features,
        params.analyze.errors.neighbours,
    )
    return {
        int(row): pool[positions] for row, positions in zip(query, found.positions, strict=True)
    }


def _train_columns(
    frame: pd.DataFrame,
    train_flags: pd.DataFrame,
    neighbours: dict[int, np.ndarray] | None,
    store: ImageStore,
    k: int,
) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    """A sheet's `train.*` columns and the pixels of the neighbours they name, by id."""
    columns: dict[str, list[str]] = {
        f"{TRAIN_PREFIX}{name}": np.where(train_flags.loc[frame.index, name], "1", "").tolist()
        for name in train_flags.columns
    }
    if neighbours is None:
        return columns, {}
    fields = {field: store.manifest[field].astype(str).to_numpy() for field in NEIGHBOUR_FIELDS}
    # An empty sheet (every dev example right, or every one wrong) has no neighbours: (0, 0).
    found = np.array([neighbours[int(row)] for row in frame["row"]], dtype=np.int64)
    found = found.reshape(len(frame), -1) if len(frame) else np.zeros((0, 0), np.int64)
    columns |= neighbour_columns(found, fields, k, TRAIN_PREFIX)
    rows = np.unique(found)
    pixels = {fields["id"][row]: store.pixels[row] for row in rows}
    return columns, pixels


def _domain_grid(store: ImageStore, settings: AnalyzeParams, out: Path) -> list[dict]:
    """A few images per training domain and per dev domain, their thumbnails written."""
    grid = []
    ids = store.manifest["id"].astype(str).to_numpy()
    for sample in domain_samples(
        store.manifest, settings.errors.domain_grid_size, settings.errors.seed
    ):
        _thumbnails(store, sample.rows, out)
        grid.append(
            {
                "split": sample.split,
                "domain": sample.domain,
                "examples": sample.examples,
                "thumbnails": [f"thumbnails/{ids[row]}.png" for row in sample.rows],
            }
        )
    return grid


def _label_issues(
    store: ImageStore,
    predictions: pd.DataFrame,
    probabilities: np.ndarray,
    held_out_rows: np.ndarray,
) -> LabelIssues:
    """cleanlab on dev and test together: both are out-of-sample for the model."""
    held_out = predictions["split"].isin(["dev", "test"]).to_numpy()
    return suspect_label_issues(
        store.label_indices(held_out_rows),
        probabilities[held_out],
        store.manifest["id"].to_numpy()[held_out_rows].tolist(),
    )


def _label_summary(
    issues: LabelIssues,
    predictions: pd.DataFrame,
    held_out: tuple[np.ndarray, np.ndarray],
    train_dev_labels: np.ndarray,
    dev_errors: tuple[pd.DataFrame, pd.Series],
    settings: AnalyzeParams,
    classes: list[str],
) -> dict:
    """The label-issue record: suspects, their false-alarm count and the verdict.

    `held_out` is (all probabilities, the dev + test labels cleanlab checked);
    `train_dev_labels` calibrate the false-alarm count; `dev_errors` the dev rows and which
    of them the model got wrong.
    """
    dev, wrong = dev_errors
    suspected = set(issues.ids)
    split_of = dict(zip(predictions["id"], predictions["split"], strict=False))
    alarms = _false_alarms(issues, predictions, held_out, train_dev_labels, settings)
    impact = label_error_impact(
        wrong.to_numpy(),
        dev["id"].isin(suspected).to_numpy(),
        settings.label_issues.worth_fixing_share,
        max_model_error=settings.label_issues.max_model_error,
        false_alarms=alarms,
        confidence=settings.label_issues.confidence,
    )
    top = _suspect_rows(issues, classes, split_of)
    return {
        "suspected_dev": sum(split_of.get(i) == "dev" for i in suspected),
        "suspected_test": sum(split_of.get(i) == "test" for i in suspected),
        "false_suspects": alarms.as_dict(),
        "impact": impact.as_dict(),
        "top": top,
    }


def _false_alarms(
    issues: LabelIssues,
    predictions: pd.DataFrame,
    held_out: tuple[np.ndarray, np.ndarray],
    train_dev_labels: np.ndarray,
    settings: AnalyzeParams,
) -> FalseSuspects:
    """The suspects this model raises on correct labels, on the rows cleanlab checked
    (dev and test, in prediction order), dev counted apart for the verdict; the model's
    confidence is calibrated on train-dev, whose labels the verdict does not judge."""
    probabilities, labels = held_out
    checked = predictions["split"].isin(["dev", "test"]).to_numpy()
    train_dev = (predictions["split"] == "train_dev").to_numpy()
    options = settings.label_issues
    return false_suspects(
        labels,
        probabilities[checked],
        observed=len(issues),
        focus=(predictions.loc[checked, "split"] == "dev").to_numpy(),
        settings=(options.null_replicates, options.confidence, settings.errors.seed),
        calibration=(
            (train_dev_labels, probabilities[train_dev], "train-dev") if train_dev.any() else None
        ),
    )


def _mismatch(
    model, store: ImageStore, predictions: pd.DataFrame, params: Params
) -> tuple[dict, np.ndarray]:
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
        rows["train_dev"],
    )
    train_dev_rows = rows["train_dev"]
    by_domain = mismatch_by_domain(
        features["train_dev"],
        store.manifest["domain"].to_numpy()[train_dev_rows],
        store.manifest["origin"].to_numpy()[train_dev_rows] == SYNTHETIC_ORIGIN,
        features["dev"],
        rows["dev"],
        settings.folds,
        settings.max_per_split,
        params.analyze.errors.seed,
        dev_domains=store.manifest["domain"].to_numpy()[rows["dev"]],
        pooled=result,
        train_dev_rows=train_dev_rows,
    )
    by_row = predictions.set_index("row")

    def gallery(shown: np.ndarray, scores: np.ndarray) -> list[dict]:
        return [
            {
                "id": by_row.at[row, "id"],
                "label": by_row.at[row, "label"],
                "prediction": by_row.at[row, "prediction"],
                "score": float(score),
                "thumbnail": f"thumbnails/{by_row.at[row, 'id']}.png",
            }
            for row, score in zip(shown, scores, strict=True)
        ]

    size = settings.gallery_size
    top_rows = result.most_unlike(size)
    shown = [top_rows]
    domains = []
    for entry in by_domain:
        domain = entry.as_dict()
        if entry.result is not None:
            # The training side beside dev's gallery: where this domain overlaps dev, and
            # what it typically is.
            like_dev = entry.result.most_dev_like(size)
            typical = entry.result.most_train_dev_like(size)
            domain |= {"dev_like": gallery(*like_dev), "train_dev_like": gallery(*typical)}
            shown += [like_dev[0], typical[0]]
        domains.append(domain)
    record = {
        "auc": float(result.auc),
        "interval": [float(result.ci_low), float(result.ci_high)],
        "distinguishable": bool(result.distinguishable),
        "train_dev_examples": int(result.train_dev_examples),
        "dev_examples": int(result.dev_examples),
        "interpretation": result.interpretation,
        "summary": mismatch_summary(result, by_domain),
        "by_domain": domains,
        "gallery": gallery(top_rows, result.most_unlike_scores(size)),
    }
    return record, np.unique(np.concatenate(shown))


def _train_label_issues(model, store: ImageStore, params: Params) -> tuple[dict, np.ndarray]:
    """The optional K-fold check of the training labels on the model's own features."""
    settings = params.analyze.label_issues
    sample = sample_rows(
        split_rows(store, "train"), settings.train_max_examples, params.analyze.errors.seed
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
    record = {
        "checked": int(issues.examined),
        "suspected": len(issues.ids),
        "folds": settings.train_folds,
        "note": issues.note,
        "top": _suspect_rows(issues, store.classes, dict.fromkeys(issues.ids, "train")),
    }
    return record, sample[issues.rows[:TOP_SUSPECTS]]


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
    architecture: str,
    settings: AnalyzeParams,
    dev_error: float,
    dev: pd.DataFrame,
    wrong: pd.Series,
    store: ImageStore,
) -> dict:
    """The reviewed sheets when they exist; a hint (or, when required, an error) when not."""
    review_dir = Path(settings.errors.review_dir) / architecture
    generated_dir = paths.analysis_dir(architecture)
    errors_path = review_dir / f"{ERRORS_SHEET}.csv"
    correct_path = review_dir / f"{CORRECT_SHEET}.csv"
    hint = (
        f"No reviewed sheet at {errors_path}: copy {generated_dir / errors_path.name} there, "
        "tick the categories that apply to each example, and run `dvc repro`."
    )
    if settings.errors.require_review:
        for path in (errors_path, correct_path):
            if not path.is_file():
                raise ReviewError(
                    f"{path}: reviewed sheet missing and analyze.errors.require_review is true; "
                    f"copy {generated_dir / path.name} there and tick it"
                )
    result: dict = {"review": None, "review_hint": hint, "correct_review": None}
    categories = sheet_categories(settings.errors.categories)
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


def _thumbnails(store: ImageStore, rows: np.ndarray, out: Path) -> None:
    """thumbnails/<id>.png for the given store rows (the report names them by id)."""
    rows = np.asarray(rows, dtype=np.int64)
    ids = store.manifest["id"].to_numpy()[rows].tolist()
    write_thumbnails(store.pixels[rows], ids, store.pixel_max, out)


def _log_to_mlflow(architecture: str, summary: dict) -> None:
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
        for entry in summary["mismatch"].get("by_domain", []):
            if entry["auc"] is not None:
                origin = "synthetic" if entry["synthetic"] else "real"
                name = re.sub(r"[^\w.\-/ ]", "_", f"{entry['domain']}.{origin}")
                metrics[f"analysis.mismatch_auc.{name}"] = entry["auc"]
    with open_run(training_run_id(architecture), run_name=architecture):
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
