"""The report's gallery of dev detections: images with their true boxes and detections drawn.

Wrong images (a miss or a false detection, the per-image error) come first, then right ones,
each group a stable seeded sample (`analysis.sheet.sample_by_id`), so a reader sees what the
detector gets wrong beside what it gets right and a re-run shows the same images. True boxes are
green with their class, detections at the operating threshold orange with class and score
(drawing.py). Thumbnails go to `<out_dir>/gallery/<id>.png`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from traindev.analysis.sheet import sample_by_id
from traindev.analysis.thumbnails import thumbnail_path
from traindev.records.detection import GalleryImage
from traindev.tasks.detection.drawing import OTHER_COLOUR, TRUE_COLOUR, BoxLayer, draw_boxes
from traindev.tasks.detection.evaluation_inputs import EvaluationSet
from traindev.tasks.detection.tide import TideResult

GALLERY_DIR = "gallery"
GALLERY_SIZE = 12  # images shown by default


def write_gallery(
    data: EvaluationSet,
    image_wrong: np.ndarray,
    tide: TideResult,
    pixels_of: Mapping[str, np.ndarray],
    pixel_max: int,
    out_dir: Path,
    score_threshold: float,
    size: int = GALLERY_SIZE,
    seed: int = 0,
) -> list[GalleryImage]:
    """Draw up to `size` dev images (wrong ones first) and describe each for the report.

    `image_wrong` is the per-image error in `data`'s image order (DetectionMetrics.image_wrong).
    """
    image_wrong = np.asarray(image_wrong, dtype=bool)
    if len(image_wrong) != data.images:
        raise ValueError(f"{len(image_wrong)} per-image errors for {data.images} images")
    chosen = []
    for group in (np.flatnonzero(image_wrong), np.flatnonzero(~image_wrong)):
        ids = [data.image_ids[i] for i in group]
        chosen += group[sample_by_id(ids, size - len(chosen), seed)].tolist()
    folder = Path(out_dir) / GALLERY_DIR
    folder.mkdir(parents=True, exist_ok=True)
    errors = tide.errors.groupby("image")["type"].value_counts()
    entries = []
    for image in chosen:
        image_id = data.image_ids[image]
        layer, shown = _layer(data, image, score_threshold)
        relative = f"{GALLERY_DIR}/{thumbnail_path(image_id).rpartition('/')[2]}"
        picture = draw_boxes(pixels_of[image_id], pixel_max, layer)
        _save_png(picture, Path(out_dir) / relative)
        counts = errors.loc[image].to_dict() if image in errors.index.get_level_values(0) else {}
        entries.append(
            GalleryImage(
                id=image_id,
                thumbnail=relative,
                objects=len(data.truth_of(image)),
                detections=shown,
                wrong=bool(image_wrong[image]),
                errors={str(kind): int(count) for kind, count in counts.items()},
            )
        )
    return entries


def _layer(data: EvaluationSet, image: int, score_threshold: float) -> tuple[BoxLayer, int]:
    truth = data.truth_of(image)
    preds = data.predictions_of(image)
    preds = preds[data.pred_score[preds] >= score_threshold]
    layer = BoxLayer()
    layer.add(
        data.truth_boxes[truth], [data.classes[k] for k in data.truth_class[truth]], TRUE_COLOUR
    )
    captions = [f"{data.classes[data.pred_class[p]]} {data.pred_score[p]:.2f}" for p in preds]
    layer.add(data.pred_boxes[preds], captions, OTHER_COLOUR)
    return layer, len(preds)


def _save_png(picture: np.ndarray, path: Path) -> None:
    Image.fromarray(picture).save(path, format="PNG", optimize=True)
