"""analyze@<arch> for a detector: the chapter-3 diagnosis parts that need boxes.

Everything is read back from what evaluate wrote (detections.parquet: every detection kept down
to the curve threshold) and the split's box table, so analyze re-runs without the model:
per-split metrics with their precision-recall curves (the report's), TIDE error types and dAP
on dev (the ceilings), cleanlab's label issues on dev and test (dev re-scored without the
flagged images), and the dev gallery with boxes drawn. Each split is joined once
(evaluation_inputs.evaluation_set) and every evaluator reuses it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from traindev import paths
from traindev.data.store import SPLITS, ImageStore
from traindev.records.detection import (
    DetectionAnalysisRecord,
    DetectionSplitMetrics,
    LabelIssueSummary,
    TideSummary,
)
from traindev.tasks.detection.detection_table import read_detections
from traindev.tasks.detection.evaluation_inputs import EvaluationSet, evaluation_set
from traindev.tasks.detection.gallery import GALLERY_SIZE, write_gallery
from traindev.tasks.detection.label_issues import label_issues_of
from traindev.tasks.detection.metrics import metrics_of
from traindev.tasks.detection.tide import tide_of

LABEL_ISSUE_SPLITS = ("dev", "test")


def split_sets(
    store: ImageStore, boxes: pd.DataFrame, detections: pd.DataFrame, predictions: pd.DataFrame
) -> dict[str, EvaluationSet]:
    """Each split with evaluated images, its truth and detections joined once, in the order of
    evaluate's predictions (the per-image error's order)."""
    sets = {}
    for name in SPLITS:
        ids = predictions.loc[predictions["split"] == name, "id"].astype(str).tolist()
        if ids:
            found = read_detections(detections, ids, store.classes)
            sets[name] = evaluation_set(boxes, found, ids, store.classes)
    return sets


def analyze_detections(
    store: ImageStore,
    boxes: pd.DataFrame,
    detections: pd.DataFrame,
    predictions: pd.DataFrame,
    score_threshold: float,
    out_dir: Path,
    gallery_size: int = GALLERY_SIZE,
    seed: int = 0,
) -> DetectionAnalysisRecord:
    """Write the dev TIDE error rows, the ranked label issues and the gallery into `out_dir`;
    return the record (the stage writes it beside the directory, paths.analysis_file)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sets = split_sets(store, boxes, detections, predictions)
    metrics = {name: metrics_of(data, score_threshold) for name, data in sets.items()}
    tide, gallery = None, []
    issues: dict[str, LabelIssueSummary] = {}
    issue_tables = []
    if "dev" in sets:
        result = tide_of(sets["dev"])
        tide = TideSummary.from_result(result)
        result.errors.to_parquet(out_dir / paths.TIDE_ERRORS_FILE, index=False)
        rows = predictions.loc[predictions["split"] == "dev", "row"].to_numpy()
        pixels_of = {i: store.pixels[r] for i, r in zip(sets["dev"].image_ids, rows, strict=True)}
        gallery = write_gallery(
            sets["dev"],
            metrics["dev"].image_wrong,
            result,
            pixels_of,
            store.pixel_max,
            out_dir,
            score_threshold,
            gallery_size,
            seed,
        )
    for name in LABEL_ISSUE_SPLITS:
        if name not in sets:
            continue
        found = label_issues_of(sets[name], score_threshold)
        summary = found.as_dict(top=0)
        issues[name] = LabelIssueSummary(
            images=summary["images"],
            flagged_images=summary["flagged_images"],
            counts=summary["counts"],
            without_flagged=DetectionSplitMetrics.from_metrics(found.without_flagged),
        )
        issue_tables.append(found.boxes.assign(split=name))
    if issue_tables:
        table = pd.concat(issue_tables, ignore_index=True)
        table.to_parquet(out_dir / paths.DETECTION_LABEL_ISSUES_FILE, index=False)
    record = DetectionAnalysisRecord(
        splits={name: DetectionSplitMetrics.from_metrics(m) for name, m in metrics.items()},
        tide=tide,
        label_issues=issues,
        gallery=gallery,
    )
    return record
