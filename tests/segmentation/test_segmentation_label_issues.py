"""cleanlab.segmentation ranks the mislabelled image first and the metric is recomputed."""

from __future__ import annotations

import numpy as np

from traindev.tasks.segmentation.label_issues import segmentation_label_issues


def test_mislabelled_image_ranks_first_and_leaves_the_recomputed_metric():
    truth = np.zeros((6, 12, 12), np.uint8)
    truth[:, 3:9, 3:9] = 1
    probabilities = np.empty((6, 2, 12, 12), np.float32)
    probabilities[:, 1] = np.where(truth == 1, 0.95, 0.05)
    probabilities[:, 0] = 1 - probabilities[:, 1]
    truth[4, 3:9, 3:9] = 0  # the annotator forgot image 4's object
    truth[1, 0, :] = 255  # unlabelled pixels are never flagged
    issues = segmentation_label_issues(
        truth, probabilities, [f"id{i}" for i in range(6)], ["background", "a"], 255
    )
    assert issues.ranked["id"].iloc[0] == "id4"
    assert issues.image_flagged.tolist() == [False, False, False, False, True, False]
    assert issues.pixel_issues[4].sum() == 36
    assert issues.without_flagged.mean_iou == 1.0
    assert len(issues.without_flagged.image_error) == 5
