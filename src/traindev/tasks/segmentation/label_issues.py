"""Label issues in segmentation masks with cleanlab.segmentation, ranked by image quality.

cleanlab scores each image from its given mask and the model's out-of-sample pixel
probabilities (softmin of pixel label quality) and flags the pixels whose given class the model
confidently contradicts. An image is suspect when any of its pixels is flagged; the split's
metrics are then recomputed without the suspect images, which says how much of the measured
error the labels themselves may account for (chapter 3's "incorrectly labelled examples").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from cleanlab.segmentation.filter import find_label_issues
from cleanlab.segmentation.rank import get_label_quality_scores

from traindev.tasks.segmentation.metrics import SegmentationMetrics, segmentation_metrics

RANK_COLUMNS = ["rank", "image", "id", "quality", "flagged_pixels"]


@dataclass(frozen=True)
class SegmentationLabelIssues:
    """Images ranked by label quality, lowest first, and the metrics without the suspects."""

    ranked: pd.DataFrame  # RANK_COLUMNS, every image, lowest quality first
    pixel_issues: np.ndarray  # bool (N, H, W): pixels cleanlab flags
    image_flagged: np.ndarray  # bool (N,)
    without_flagged: SegmentationMetrics


def segmentation_label_issues(
    truth: np.ndarray,
    probabilities: np.ndarray,
    ids: list[str],
    classes: list[str],
    ignore_index: int | None,
) -> SegmentationLabelIssues:
    """truth (N, H, W) class indices, probabilities (N, C, H, W) out-of-sample softmax.

    Pixels at `ignore_index` have no label: cleanlab sees the model's own class there, so they
    can never be flagged.
    """
    truth = np.asarray(truth)
    probabilities = np.asarray(probabilities, dtype=np.float32)
    labels = truth.astype(np.int64)
    if ignore_index is not None:
        ignored = labels == ignore_index
        labels = np.where(ignored, probabilities.argmax(1), labels)
    quality, _ = get_label_quality_scores(labels, probabilities, verbose=False)
    issues = find_label_issues(labels, probabilities, verbose=False, n_jobs=1)
    flagged_pixels = issues.reshape(len(issues), -1).sum(1)
    order = np.argsort(quality, kind="stable")
    ranked = pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "image": order,
            "id": [ids[i] for i in order],
            "quality": quality[order],
            "flagged_pixels": flagged_pixels[order],
        }
    )
    image_flagged = flagged_pixels > 0
    predictions = probabilities.argmax(1)
    keep = ~image_flagged
    return SegmentationLabelIssues(
        ranked=ranked,
        pixel_issues=issues,
        image_flagged=image_flagged,
        without_flagged=segmentation_metrics(predictions[keep], truth[keep], classes, ignore_index),
    )
