"""The detection error-analysis sheet: TIDE's rows, drawn boxes, and the reviewed round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.detection_sets import as_detections, box_table, detections
from helpers.digit_stores import real_digits
from PIL import Image

from traindev.analysis.review import ReviewError
from traindev.config import CanvasParams
from traindev.tasks.detection.box_table import COORDINATES
from traindev.tasks.detection.canvases import build_canvases
from traindev.tasks.detection.drawing import ERROR_COLOUR, TRUE_COLOUR
from traindev.tasks.detection.error_sheet import (
    DETECTION_FLAGS,
    build_detection_sheet,
    detection_categories,
    detection_error_table,
    error_keys,
    read_detection_review,
    write_detection_sheet,
)
from traindev.tasks.detection.evaluation_inputs import evaluation_set
from traindev.tasks.detection.label_issues import DetectionLabelIssues
from traindev.tasks.detection.metrics import metrics_of
from traindev.tasks.detection.tide import tide_of

CLASSES = ["a", "b"]
SQUARE = (20.0, 20.0, 40.0, 40.0)
SHIFTED = (30.0, 20.0, 50.0, 40.0)  # IoU 1/3 with SQUARE: a localization error
SMALL = (0.0, 2.0, 8.0, 10.0)  # side 8, on the left border
FAR = (44.0, 44.0, 60.0, 60.0)


def _set():
    """img1: a localization error and a missed small object; img2: a background detection;
    img3: found correctly (no row)."""
    objects = [
        ("img1", "a", SQUARE),
        ("img1", "b", SMALL),
        ("img2", "a", SQUARE),
        ("img3", "b", SQUARE),
    ]
    predictions = [
        detections((SHIFTED, 0.9, 0)),
        detections((SQUARE, 0.95, 0), (FAR, 0.7, 1)),
        detections((SQUARE, 0.8, 1)),
    ]
    data = evaluation_set(box_table(objects), predictions, ["img1", "img2", "img3"], CLASSES)
    return data, tide_of(data)


def _images(ids=("img1", "img2", "img3")) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": list(ids),
            "domain": "handwritten",
            "label": "a",  # the manifest's own label column must not reach the sheet
            "tags": [["objects=2", "smallest=small"], ["objects=1"], ["objects=1"]],
            "meta.path": ["c1.png", "c2.png", "c3.png"],
        }
    )


def _built(categories=("smudge",), sample_size=10):
    data, tide = _set()
    built = build_detection_sheet(
        data, tide, _images(), list(categories), sample_size, seed=0, image_size=(64, 64)
    )
    return data, tide, built


def test_the_sheet_has_one_row_per_tide_error_with_the_type_pre_filled() -> None:
    _, tide, built = _built()
    sheet = built.sheet

    expected = ["background", "localization", "missed"]
    assert sorted(sheet["type"]) == sorted(tide.errors["type"]) == expected
    by_type = sheet.set_index("type")
    assert by_type.loc["missed", "id"] == "img1.o1"
    assert by_type.loc["missed", ["label", "prediction"]].tolist() == ["b", ""]
    assert by_type.loc["localization", ["label", "prediction"]].tolist() == ["a", "a"]
    assert by_type.loc["localization", "iou"] == pytest.approx(1 / 3, abs=1e-3)
    assert by_type.loc["background", "image"] == "img2"
    assert by_type.loc["background", "label"] == ""
    assert list(sheet.columns[:9]) == [
        "id",
        "label",
        "prediction",
        "confidence",
        "thumbnail",
        "domain",
        "image",
        "type",
        "iou",
    ]
    assert "tag.smallest" in sheet.columns and "meta.path" in sheet.columns
    assert [c for c in sheet.columns if c.startswith("tick:")] == [
        f"tick:{name}" for name in detection_categories(["smudge"])
    ]


def test_flags_are_pre_ticked_from_the_box_the_row_is_about() -> None:
    _, _, built = _built()
    by_type = built.sheet.set_index("type")

    assert by_type.loc["missed", "tick:small_box"] == "1"  # side 8 < 16
    assert by_type.loc["localization", "tick:small_box"] == ""
    assert by_type.loc["missed", "tick:at_edge"] == "1"
    assert by_type.loc["background", "tick:at_edge"] == ""
    assert set(DETECTION_FLAGS) == {"small_box", "overlapping", "at_edge"}


def test_rows_whose_object_cleanlab_flags_are_pre_ticked_as_incorrectly_labeled() -> None:
    data, tide = _set()
    flagged = pd.DataFrame(
        [
            {"rank": 1, "image": 0, "id": "img1", "type": "swapped", "object": 1,
             "prediction": -1, "label": "b", "score": 0.01,
             "x_min": 0.0, "y_min": 2.0, "x_max": 8.0, "y_max": 10.0},
        ]
    )  # fmt: skip
    issues = DetectionLabelIssues(
        boxes=flagged,
        image_quality=np.array([0.01, 0.9, 0.9]),
        image_flagged=np.array([True, False, False]),
        without_flagged=metrics_of(data.subset(np.array([False, True, True]))),
    )
    built = build_detection_sheet(data, tide, _images(), [], 10, 0, label_issues=issues)
    sheet = built.sheet.set_index("id")

    assert sheet.loc["img1.o1", "tick:incorrectly_labeled"] == "1"
    assert sheet.loc["img1.o1", "label_issue_rank"] == 1
    assert (sheet.drop(index="img1.o1")["tick:incorrectly_labeled"] == "").all()


def test_a_detection_keeps_its_row_id_when_another_detection_is_added() -> None:
    data, tide = _set()
    keys = set(error_keys(data, tide))
    predictions = [
        detections((FAR, 0.2, 0), (SHIFTED, 0.9, 0)),  # a new detection ahead of the old one
        detections((SQUARE, 0.95, 0), (FAR, 0.7, 1)),
        detections((SQUARE, 0.8, 1)),
    ]
    objects = [("img1", "a", SQUARE), ("img1", "b", SMALL), ("img2", "a", SQUARE)]
    objects.append(("img3", "b", SQUARE))
    again = evaluation_set(box_table(objects), predictions, ["img1", "img2", "img3"], CLASSES)

    assert keys < set(error_keys(again, tide_of(again)))


def test_the_sample_keeps_every_error_of_each_drawn_image() -> None:
    _, _, built = _built(sample_size=1)

    assert built.sheet["image"].nunique() == 1
    image = built.sheet["image"].iloc[0]
    assert len(built.sheet) == {"img1": 2, "img2": 1}[image]


def test_thumbnails_draw_true_boxes_green_and_the_error_magenta(tmp_path) -> None:
    _, _, built = _built()
    pixels = {i: np.zeros((64, 64, 1), np.uint8) for i in ("img1", "img2", "img3")}

    files = write_detection_sheet(built, pixels, 16, tmp_path, "detection_errors", "Errors")

    row = built.sheet.set_index("type").loc["localization"]
    picture = np.asarray(Image.open(tmp_path / row["thumbnail"]).convert("RGB"))
    colours = {tuple(c) for c in picture.reshape(-1, 3)}
    assert TRUE_COLOUR in colours and ERROR_COLOUR in colours
    assert picture.shape == (192, 192, 3)
    html = files.html.read_text()
    assert html.count("data:image/png;base64,") >= 3 and "localization" in html
    assert "the row&#39;s detection magenta" in html


def _reviewed(tmp_path, built, edit) -> tuple:
    files = write_detection_sheet(
        built,
        {i: np.zeros((64, 64, 1), np.uint8) for i in ("img1", "img2", "img3")},
        16,
        tmp_path / "generated",
        "detection_errors",
        "Errors",
    )
    sheet = pd.read_csv(files.csv, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    edit(sheet)
    path = tmp_path / "reviewed.csv"
    sheet.to_csv(path, index=False)
    return path, files


def test_a_reviewed_sheet_reads_back_into_counts_and_per_image_ceilings(tmp_path) -> None:
    data, tide, built = _built()

    def tick(sheet: pd.DataFrame) -> None:
        sheet.loc[sheet["image"] == "img1", "tick:smudge"] = "x"  # both errors of img1
        sheet.loc[sheet["type"] == "missed", "tick:overlapping"] = "1"  # one of img1's two

    path, files = _reviewed(tmp_path, built, tick)
    review = read_detection_review(path, ["smudge"], files.csv)
    table = detection_error_table(
        review, 2 / 3, set(error_keys(data, tide)), ["img1", "img2", "img3"]
    )
    rows = {row.name: row for row in table.rows}

    assert table.reviewed == 3 and table.stale_ids == () and table.unknown_ids == ()
    assert rows["smudge"].count == 2
    assert rows["smudge"].percent_of_errors == pytest.approx(200 / 3)
    assert rows["smudge"].ceiling == pytest.approx(2 / 3 * 1 / 2)  # img1 fully fixed
    assert rows["overlapping"].count == 1
    assert rows["overlapping"].ceiling == 0.0  # img1 keeps its localization error
    assert rows["type = background"].ceiling == pytest.approx(2 / 3 * 1 / 2)
    assert not any(row.column in ("image", "iou") for row in table.rows)


def test_rows_the_model_no_longer_makes_are_stale_and_foreign_images_unknown(tmp_path) -> None:
    data, tide, built = _built()

    def add_foreign(sheet: pd.DataFrame) -> None:
        extra = sheet.iloc[[0]].copy()
        extra["id"] = "elsewhere.o0"
        sheet.loc[len(sheet)] = extra.iloc[0]

    path, files = _reviewed(tmp_path, built, add_foreign)
    review = read_detection_review(path, ["smudge"], files.csv)
    current = set(error_keys(data, tide)) - {"img1.o1"}
    table = detection_error_table(review, 2 / 3, current, ["img1", "img2", "img3"])

    assert table.stale_ids == ("img1.o1",)
    assert table.unknown_ids == ("elsewhere.o0",)
    assert table.reviewed == 2


def test_a_bad_tick_names_the_file_line_and_column(tmp_path) -> None:
    _, _, built = _built()

    def maybe(sheet: pd.DataFrame) -> None:
        sheet.loc[1, "tick:smudge"] = "maybe"

    path, files = _reviewed(tmp_path, built, maybe)
    with pytest.raises(ReviewError, match=r"reviewed\.csv, line 3, column 'tick:smudge'"):
        read_detection_review(path, ["smudge"], files.csv)


def test_a_user_category_may_not_reuse_a_detail_column(tmp_path) -> None:
    with pytest.raises(ValueError, match="'type' clashes"):
        _built(categories=("type",))


def test_a_sheet_of_real_canvases_carries_their_tags_into_categories(tmp_path) -> None:
    made = build_canvases([(real_digits(), 30)], CanvasParams(size=(48, 48), objects=(1, 3)))
    rng = np.random.default_rng(0)
    ids = made.manifest["id"].tolist()
    predictions = []
    for image_id in ids:  # a plausible detector: jittered true boxes, some dropped
        rows = made.boxes[made.boxes["id"] == image_id]
        kept = rows[rng.random(len(rows)) > 0.3]
        boxes = kept[list(COORDINATES)].to_numpy(float) + rng.normal(0, 2, (len(kept), 4))
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        classes = np.array(kept["label"].map(made.classes.index), dtype=np.int64)
        predictions.append(as_detections(boxes, rng.uniform(0.5, 1, len(kept)), classes))
    data = evaluation_set(made.boxes, predictions, ids, made.classes)
    tide = tide_of(data)
    built = build_detection_sheet(data, tide, made.manifest, [], 100, 0, image_size=(48, 48))
    pixels = dict(zip(ids, made.pixels, strict=True))
    files = write_detection_sheet(built, pixels, made.pixel_max, tmp_path, "errors", "Errors")

    review = read_detection_review(files.csv, [])
    table = detection_error_table(review, 0.5, set(error_keys(data, tide)), ids)

    assert {"tag.objects", "tag.smallest", "tag.overlap", "tag.clutter"} <= set(built.sheet)
    assert table.reviewed == len(tide.errors) > 0
    names = {row.name for row in table.rows}
    assert any(name.startswith("tag.objects = ") for name in names)
    assert {"type = missed", "type = localization"} <= names
