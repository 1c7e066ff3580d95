"""TIDE's error types, each on a hand-made image, and the AP each oracle gives back."""

from __future__ import annotations

import pytest
from helpers.detection_sets import box_table, detections, jittered_set

from traindev.tasks.detection.metrics import detection_metrics
from traindev.tasks.detection.tide import MAIN_TYPES, SPECIAL_TYPES, tide_errors

SQUARE = (0.0, 0.0, 10.0, 10.0)
SHIFTED = (5.0, 0.0, 15.0, 10.0)  # IoU 1/3 with SQUARE: between t_b and t_f
NUDGED = (1.0, 0.0, 11.0, 10.0)  # IoU 9/11 with SQUARE
FAR = (30.0, 30.0, 40.0, 40.0)  # IoU 0 with SQUARE
CLASSES = ["a", "b"]


def _tide(objects, *predicted):
    table = box_table([("img", label, box) for label, box in objects])
    return tide_errors(table, [detections(*predicted)], ["img"], CLASSES)


def _types(result) -> list[str]:
    return result.errors["type"].tolist()


def test_a_box_of_the_right_class_at_iou_below_t_f_is_a_localization_error() -> None:
    result = _tide([("a", SQUARE)], (SHIFTED, 0.9, 0))

    assert _types(result) == ["localization"]  # the object is not also missed
    assert result.errors.loc[0, "iou"] == pytest.approx(1 / 3)
    assert bool(result.errors.loc[0, "oracle_fix"])
    assert result.ap_50 == 0.0
    assert result.delta_ap["localization"] == pytest.approx(1.0)


def test_a_well_placed_box_of_another_class_is_a_classification_error() -> None:
    result = _tide([("a", SQUARE)], (SQUARE, 0.9, 1))

    assert _types(result) == ["classification"]
    row = result.errors.iloc[0]
    assert (row["predicted_class"], row["true_class"]) == ("b", "a")
    assert result.delta_ap["classification"] == pytest.approx(1.0)
    assert result.delta_ap["localization"] == 0.0


def test_a_badly_placed_box_of_another_class_is_both() -> None:
    result = _tide([("a", SQUARE)], (SHIFTED, 0.9, 1))

    assert _types(result) == ["both", "missed"]  # no oracle of one type recovers the object
    assert result.delta_ap["both"] == 0.0  # dropping it leaves class a's AP at 0
    assert result.delta_ap["missed"] == pytest.approx(0.0)


def test_a_second_box_on_a_found_object_is_a_duplicate() -> None:
    result = _tide([("a", SQUARE), ("a", FAR)], (SQUARE, 0.9, 0), (NUDGED, 0.8, 0), (FAR, 0.7, 0))

    assert _types(result) == ["duplicate"]
    # TP, FP, TP: precision 1 up to recall 0.5 (51 points), then 2/3 (50 points).
    assert result.ap_50 == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert result.delta_ap["duplicate"] == pytest.approx(1 - (51 + 50 * 2 / 3) / 101)


def test_a_box_touching_no_object_is_background() -> None:
    result = _tide([("a", SQUARE)], (FAR, 0.9, 0), (SQUARE, 0.8, 0))

    assert _types(result) == ["background"]
    assert result.ap_50 == pytest.approx(0.5)
    assert result.delta_ap["background"] == pytest.approx(0.5)
    assert result.delta_ap["false_positive"] == pytest.approx(0.5)


def test_a_box_on_an_image_without_objects_is_background() -> None:
    result = _tide([], (SQUARE, 0.9, 0))

    assert _types(result) == ["background"]


def test_an_object_no_box_comes_near_is_missed() -> None:
    result = _tide([("a", SQUARE), ("b", FAR)], (SQUARE, 0.9, 0))

    assert _types(result) == ["missed"]
    row = result.errors.iloc[0]
    assert (row["true_class"], row["object"], row["prediction"]) == ("b", 1, -1)
    assert result.ap_50 == pytest.approx(0.5)  # class a: 1, class b: 0
    assert result.delta_ap["missed"] == pytest.approx(0.5)  # class b leaves the mean
    assert result.delta_ap["false_negative"] == pytest.approx(0.5)


def test_only_the_best_scoring_error_on_an_object_is_fixed_into_its_true_positive() -> None:
    result = _tide([("a", SQUARE)], (SHIFTED, 0.9, 0), ((0, 0, 10, 30), 0.8, 0))

    assert _types(result) == ["localization", "localization"]
    assert result.errors["oracle_fix"].tolist() == [True, False]
    assert result.delta_ap["localization"] == pytest.approx(1.0)


def test_a_localization_error_on_a_found_object_is_only_dropped() -> None:
    result = _tide([("a", SQUARE)], (SQUARE, 0.9, 0), (SHIFTED, 0.8, 0))

    assert _types(result) == ["localization"]
    assert not result.errors.loc[0, "oracle_fix"]
    assert result.ap_50 == pytest.approx(1.0) and result.delta_ap["localization"] == 0.0


def test_tide_ap_equals_cocoeval_ap50_and_every_type_occurs() -> None:
    classes = ["zero", "one", "two"]
    table, predictions, ids = jittered_set(200, classes, seed=3)

    result = tide_errors(table, predictions, ids, classes)
    coco = detection_metrics(table, predictions, ids, classes)

    assert result.ap_50 == pytest.approx(coco.map_50, abs=1e-12)
    assert all(result.counts[kind] > 0 for kind in MAIN_TYPES), result.counts
    assert set(result.delta_ap) == {*MAIN_TYPES, *SPECIAL_TYPES}
    assert all(0 <= result.delta_ap[kind] <= 1 - result.ap_50 for kind in MAIN_TYPES)
    # Every detection is a true positive or one typed error; every object matched or missed.
    detections_made = sum(min(len(p.scores), 100) for p in predictions)
    typed = (result.errors["prediction"] >= 0).sum()
    assert typed + coco.true_positives == detections_made
    assert result.counts["missed"] <= coco.missed
