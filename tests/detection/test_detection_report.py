"""Detection's report pieces: metrics table, precision-recall curves, TIDE bars, gallery,
detector comparison, rendered through the report's templates in both formats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers.detection_sets import jittered_set
from helpers.html import tables

from traindev.records.detection import (
    DetectionSplitMetrics,
    DetectorSummary,
    GalleryImage,
    TideSummary,
)
from traindev.records.io import read_record, write_record
from traindev.reporting.templating import (
    html_environment,
    markdown_environment,
    render_html,
    render_markdown,
)
from traindev.tasks.detection.evaluation_inputs import evaluation_set
from traindev.tasks.detection.gallery import write_gallery
from traindev.tasks.detection.metrics import metrics_of
from traindev.tasks.detection.report import (
    detection_blocks,
    detector_comparison_table,
    error_types_table,
    metrics_table,
)
from traindev.tasks.detection.tide import tide_of

CLASSES = ["0", "1", "2"]


@pytest.fixture(scope="module")
def evaluated():
    table, predictions, ids = jittered_set(40, CLASSES, seed=3)
    data = evaluation_set(table, predictions, ids, CLASSES)
    half = np.arange(data.images) < 20
    splits = {
        "dev": metrics_of(data.subset(half), 0.5),
        "train": metrics_of(data.subset(~half), 0.5),
    }
    return data, splits, tide_of(data.subset(half))


def test_split_metrics_survive_their_json_record(tmp_path, evaluated) -> None:
    _, splits, _ = evaluated
    record = DetectionSplitMetrics.from_metrics(splits["dev"])
    write_record(tmp_path / "dev.json", record)

    again = read_record(tmp_path / "dev.json", DetectionSplitMetrics)

    assert again == record
    assert again.image_error == pytest.approx(splits["dev"].image_error)


def test_the_precision_recall_curve_averages_to_map_50(evaluated) -> None:
    # COCO's AP@0.5 is the mean of the interpolated precision on the 101 recall points: the
    # plotted curve is the one mAP@0.5 was computed from.
    _, splits, _ = evaluated
    record = DetectionSplitMetrics.from_metrics(splits["dev"])

    assert len(record.precision_curve) == 101
    assert np.mean(record.precision_curve) == pytest.approx(record.map_50)
    assert record.recall_grid[[0, -1]].tolist() == [0.0, 1.0]


def test_the_metrics_table_lists_splits_in_pipeline_order_in_ap_points(evaluated) -> None:
    _, splits, _ = evaluated
    records = {name: DetectionSplitMetrics.from_metrics(m) for name, m in splits.items()}

    table = metrics_table(records)

    assert [row[0] for row in table.rows] == ["Train", "Dev"]
    dev = dict(zip(table.header, table.rows[1], strict=True))
    assert dev["mAP@0.5"] == f"{100 * splits['dev'].map_50:.1f}"
    assert dev["Image error"] == f"{100 * splits['dev'].image_error:.2f}%"


def test_error_types_are_ranked_by_dap_with_the_broad_oracles_last(evaluated) -> None:
    _, _, tide = evaluated
    summary = TideSummary.from_result(tide)

    rows = error_types_table(summary).rows

    main = [row for row in rows if row[1] != "—"]
    assert [row[0] for row in rows[-2:]] == ["false_positive", "false_negative"]
    gains = [float(row[2]) for row in main]
    assert gains == sorted(gains, reverse=True)
    assert {row[0]: int(row[1]) for row in main} == tide.counts


def _render_blocks(items, figures_dir="figures") -> tuple[str, str]:
    source = '{% from "partials/blocks.{ext}" import blocks with context %}{{ blocks(items) }}'
    html = html_environment().from_string(source.replace("{ext}", "html")).render(items=items)
    markdown = (
        markdown_environment()
        .from_string(source.replace("{ext}", "md"))
        .render(items=items, figures_dir=figures_dir)
    )
    return html, markdown


def test_a_detector_section_renders_the_same_figures_in_html_and_markdown(
    tmp_path, evaluated
) -> None:
    data, splits, tide = evaluated
    dev = data.subset(np.arange(data.images) < 20)
    pixels = {image_id: np.zeros((64, 64, 1), np.uint8) for image_id in dev.image_ids}
    gallery = write_gallery(dev, splits["dev"].image_wrong, tide, pixels, 16, tmp_path, 0.5, 4)
    thumbnails = {g.thumbnail: (tmp_path / g.thumbnail).read_bytes() for g in gallery}
    records = {name: DetectionSplitMetrics.from_metrics(m) for name, m in splits.items()}

    blocks, figures = detection_blocks(
        "yolo", records, TideSummary.from_result(tide), gallery, thumbnails, "analysis/yolo"
    )
    html, markdown = _render_blocks(blocks)

    assert [f.filename for f in figures] == ["yolo_precision_recall.png", "yolo_error_types.png"]
    assert all(f.png.startswith(b"\x89PNG") for f in figures)
    for figure in figures:
        assert f"](figures/{figure.filename})" in markdown
    assert html.count("data:image/png;base64,") == len(figures) + len(gallery)
    metrics = tables(html, "detection")[0]
    assert [row["Split"] for row in metrics] == ["Train", "Dev"]
    assert "| Split | Images | mAP@0.5 |" in markdown
    assert "analysis/yolo/gallery/" in markdown


def test_the_gallery_shows_wrong_images_first_with_their_tide_errors(tmp_path, evaluated) -> None:
    data, splits, tide = evaluated
    dev = data.subset(np.arange(data.images) < 20)
    wrong = splits["dev"].image_wrong
    pixels = {image_id: np.zeros((64, 64, 1), np.uint8) for image_id in dev.image_ids}

    gallery = write_gallery(dev, wrong, tide, pixels, 16, tmp_path, 0.5, size=6)

    flags = [image.wrong for image in gallery]
    assert flags == sorted(flags, reverse=True) and len(gallery) == 6
    by_id = tide.errors.groupby("id")["type"].value_counts()
    for image in gallery:
        expected = by_id.loc[image.id].to_dict() if image.id in by_id.index else {}
        assert image.errors == expected
        assert (tmp_path / image.thumbnail).is_file()
    assert write_gallery(dev, wrong, tide, pixels, 16, tmp_path / "again", 0.5, size=6) == gallery


def _detector(name: str, map_50: float) -> DetectorSummary:
    return DetectorSummary(
        name=name,
        family="yolo",
        dev_map_50=map_50,
        dev_map_50_95=map_50 / 2,
        dev_image_error=0.3,
        train_dev_image_error=0.2,
        parameters=1234,
    )


def test_the_detector_comparison_marks_the_best_dev_map(tmp_path) -> None:
    table = detector_comparison_table(
        [_detector("windows", 0.4), _detector("yolo", 0.8), _detector("none", math.nan)]
    )
    page = {"detectors": table, "best_mark": "★"}

    html = render_html("partials/detectors.html", page=page)
    markdown = render_markdown("partials/detectors.md", page=page)

    rows = tables(html, "comparison")[0]
    assert [row["Dev mAP@0.5"] for row in rows] == ["40.0", "80.0 ★", "—"]
    assert table.emphasis == ("", "best", "")
    assert "**yolo**" in markdown and "## Detectors compared" in markdown


def test_without_detectors_the_comparison_partial_is_empty() -> None:
    page = {"detectors": None, "best_mark": "★"}

    assert render_html("partials/detectors.html", page=page).strip() == ""
    assert render_markdown("partials/detectors.md", page=page).strip() == ""


def test_a_gallery_image_thumbnail_must_stay_inside_the_analysis_directory() -> None:
    with pytest.raises(ValueError, match="inside the analysis directory"):
        GalleryImage(id="a", thumbnail="../x.png", objects=1, detections=1, wrong=False, errors={})
