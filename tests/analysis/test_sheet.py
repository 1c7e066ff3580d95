"""The error-analysis sheet as generated: sampling, columns, files and thumbnails."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from traindev.analysis.sheet import (
    build_sheet,
    sample_by_id,
    sample_rows,
    sheet_categories,
    write_sheet,
)
from traindev.analysis.thumbnails import thumbnail_data_uri, write_thumbnails
from traindev.data.store import ImageStore
from traindev.stages.analyze import _with_manifest_columns


def example_frame() -> pd.DataFrame:
    """Three dev examples, deliberately not in id order, indexed by (made-up) store row."""
    return pd.DataFrame(
        {
            "id": ["c3", "a1", "b2"],
            "split": ["dev"] * 3,
            "domain": ["handwritten", "fonts", "fonts"],
            "label": ["7", "1", "4"],
            "prediction": ["1", "7", "9"],
            "confidence": [0.912345, 0.5, 0.33333333],
            "tags": [
                np.array(["writer_set=optdigits"]),
                ["font=DejaVuSerif-Bold", "size=32", "blur"],
                ["font=cmr10", "size=28"],
            ],
        },
        index=[40, 10, 25],
    )


def example_flags() -> pd.DataFrame:
    return pd.DataFrame({"dark": [True, False, False], "blurry": [False, True, True]})


def test_sample_by_id_is_seeded_and_sorted():
    ids = [f"example-{number}" for number in range(1000)]
    first = sample_by_id(ids, 100, seed=3)
    assert len(first) == 100
    assert np.array_equal(first, np.sort(first))
    assert np.array_equal(first, sample_by_id(ids, 100, seed=3))
    assert len(np.intersect1d(first, sample_by_id(ids, 100, seed=4))) < 30
    assert np.array_equal(sample_by_id(ids[:5], 100, seed=3), np.arange(5))


def test_sample_by_id_keeps_most_rows_when_candidates_are_added():
    ids = [f"example-{number}" for number in range(1000)]
    before = {ids[position] for position in sample_by_id(ids, 100, seed=0)}
    grown = [*ids[:500], *(f"new-{number}" for number in range(10)), *ids[500:]]
    after = {grown[position] for position in sample_by_id(grown, 100, seed=0)}
    assert len(before & after) >= 90
    shrunk = ids[10:]
    after_removal = {shrunk[position] for position in sample_by_id(shrunk, 100, seed=0)}
    assert len(before & after_removal) >= 90


def test_sample_rows_returns_store_rows_of_the_sampled_ids():
    rows = np.array([70, 12, 55, 31])
    ids = ["d", "a", "c", "b"]
    chosen = sample_rows(rows, ids, 2, seed=0)
    expected = np.sort(rows[sample_by_id(ids, 2, seed=0)])
    assert np.array_equal(chosen, expected)
    with pytest.raises(ValueError, match="3 ids for 4 candidate rows"):
        sample_rows(rows, ids[:3], 2, seed=0)


def test_build_sheet_orders_columns_and_rows_for_review():
    sheet = build_sheet(example_frame(), example_flags(), ["great_cat"], {"b2": 1})
    assert list(sheet.columns) == [
        "id",
        "label",
        "prediction",
        "confidence",
        "thumbnail",
        "domain",
        "tag.blur",
        "tag.font",
        "tag.size",
        "tag.writer_set",
        "tick:dark",
        "tick:blurry",
        "tick:great_cat",
        "tick:incorrectly_labeled",
        "label_issue_rank",
        "notes",
    ]
    assert sheet["id"].tolist() == ["a1", "b2", "c3"]
    assert sheet.index.tolist() == [10, 25, 40]  # store rows follow their ids
    a1, b2, c3 = (sheet.iloc[position] for position in range(3))
    assert a1["confidence"] == 0.5 and c3["confidence"] == 0.9123
    assert a1["thumbnail"] == "thumbnails/a1.png"
    assert (a1["tag.font"], a1["tag.size"], a1["tag.blur"]) == ("DejaVuSerif-Bold", "32", True)
    assert (c3["tag.font"], c3["tag.writer_set"], c3["tag.blur"]) == ("", "optdigits", False)
    assert (c3["tick:dark"], c3["tick:blurry"], a1["tick:blurry"]) == ("1", "", "1")
    assert sheet["tick:great_cat"].tolist() == ["", "", ""]
    assert sheet["tick:incorrectly_labeled"].tolist() == ["", "1", ""]
    assert b2["label_issue_rank"] == 1 and pd.isna(a1["label_issue_rank"])


def test_sheet_categories_list_every_tick_column():
    assert sheet_categories(["dog"], flags=["dark"]) == ["dark", "dog", "incorrectly_labeled"]


@pytest.mark.parametrize(
    ("category", "message"),
    [
        ("blurry", "already a column"),
        ("incorrectly_labeled", "already a column"),
        ("label", "clashes"),
        (" dog", "surrounding spaces"),
    ],
)
def test_user_categories_that_clash_with_sheet_columns_are_refused(category, message):
    with pytest.raises(ValueError, match=message):
        build_sheet(example_frame(), example_flags(), [category], {})


def test_write_sheet_writes_csv_html_and_thumbnails(tmp_path):
    sheet = build_sheet(example_frame(), example_flags(), ["great_cat"], {})
    pixels = np.zeros((3, 8, 8, 1), np.uint8)
    pixels[:, 2:6, 3:5] = 16
    title = "Errors of <script>alert(1)</script>"
    files = write_sheet(sheet, pixels, 16, tmp_path, "errors", title, note="put it in reviews/")
    assert files.csv == tmp_path / "errors.csv" and files.html == tmp_path / "errors.html"
    assert files.thumbnails == ("thumbnails/a1.png", "thumbnails/b2.png", "thumbnails/c3.png")
    read_back = pd.read_csv(files.csv, dtype=str, keep_default_na=False)  # as a user would
    assert read_back.columns[0] == "id"  # the BOM for Excel does not leak into the header
    assert read_back["tick:blurry"].tolist() == ["1", "1", ""]
    page = files.html.read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count("data:image/png;base64,") == 3
    assert "put it in reviews/" in page
    with Image.open(tmp_path / "thumbnails" / "a1.png") as thumbnail:
        assert thumbnail.size == (64, 64)


def test_write_sheet_refuses_a_name_with_directories(tmp_path):
    sheet = build_sheet(example_frame(), example_flags(), [], {})
    with pytest.raises(ValueError, match="plain file name"):
        write_sheet(sheet, np.zeros((3, 8, 8, 1), np.uint8), 16, tmp_path, "../errors", "t")


def test_thumbnails_scale_by_pixel_max_with_crisp_pixels(tmp_path):
    digit = np.zeros((8, 8, 1), np.uint8)
    digit[0, 0] = 16  # full ink on the digits' 0..16 scale
    uri = thumbnail_data_uri(digit, pixel_max=16)
    assert uri.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as image:
        array = np.asarray(image)
    assert image.mode == "L" and array.shape == (64, 64)
    assert (array[:8, :8] == 255).all() and (array[8:, :] == 0).all()  # one 8x8 block


def test_thumbnail_files_are_named_by_id_and_ids_must_be_file_names(tmp_path):
    photos = np.zeros((2, 128, 96, 3), np.uint8)
    assert write_thumbnails(photos, ["p1", "p2"], 255, tmp_path) == [
        "thumbnails/p1.png",
        "thumbnails/p2.png",
    ]
    with Image.open(tmp_path / "thumbnails" / "p1.png") as image:
        assert image.size == (48, 64) and image.mode == "RGB"
    with pytest.raises(ValueError, match="cannot name a thumbnail file"):
        write_thumbnails(photos[:1], ["../escape"], 255, tmp_path)


def meta_store() -> ImageStore:
    """Four examples: three ingested from a CSV manifest with extra columns, one synthesized
    (no manifest metadata, so NaN after the split stage concatenates the stores)."""
    manifest = pd.DataFrame(
        {
            "id": ["m0", "m1", "m2", "s3"],
            "source": ["manifest:labels.csv"] * 3 + ["fonts"],
            "domain": ["phone"] * 3 + ["fonts"],
            "label": ["1", "7", "4", "9"],
            "origin": ["real"] * 3 + ["synthetic"],
            "tags": [["blur"], [], [], []],
            "split": "dev",
            "meta.path": ["img/a.png", "img/b.png", "img/c.png", np.nan],
            "meta.camera": ["pixel", np.nan, "iphone", np.nan],
            "meta.flash": [1.0, 0.0, np.nan, np.nan],  # an int column with gaps reads as float
        }
    )
    return ImageStore(manifest, np.zeros((4, 8, 8, 1), np.uint8), ["1", "4", "7", "9"], 16)


def test_manifest_meta_columns_reach_the_sheet_between_tags_and_ticks(tmp_path):
    store = meta_store()
    predictions = pd.DataFrame(
        {
            "id": ["s3", "m2", "m0"],  # store rows 3, 2, 0: not in store order
            "split": "dev",
            "domain": ["fonts", "phone", "phone"],
            "label": ["9", "4", "1"],
            "prediction": ["4", "9", "7"],
            "confidence": [0.6, 0.7, 0.8],
            "row": [3, 2, 0],
        }
    )
    frame = _with_manifest_columns(predictions, store)
    flags = pd.DataFrame({"dark": [False, True, False]})
    sheet = build_sheet(frame, flags, [], {})
    columns = list(sheet.columns)
    assert columns[columns.index("tag.blur") + 1 : columns.index("tick:dark")] == [
        "meta.path",
        "meta.camera",
        "meta.flash",
    ]
    by_id = sheet.set_index("id")
    assert by_id.loc["m0", ["meta.path", "meta.camera", "meta.flash"]].tolist() == [
        "img/a.png", "pixel", "1",
    ]  # fmt: skip
    assert by_id.loc["m2", ["meta.path", "meta.camera", "meta.flash"]].tolist() == [
        "img/c.png", "iphone", "",
    ]  # fmt: skip
    assert by_id.loc["s3", ["meta.path", "meta.camera", "meta.flash"]].tolist() == ["", "", ""]
    assert by_id.loc["m0", "tag.blur"] and by_id.loc["m2", "tick:dark"] == "1"

    files = write_sheet(sheet, np.zeros((3, 8, 8, 1), np.uint8), 16, tmp_path, "errors", "t")
    read_back = pd.read_csv(files.csv, dtype=str, keep_default_na=False)
    assert read_back["meta.path"].tolist() == ["img/a.png", "img/c.png", ""]
    assert read_back["meta.flash"].tolist() == ["1", "", ""]
    page = files.html.read_text()
    assert "<th>meta.path</th>" in page and "<td>img/c.png</td>" in page


def test_a_user_category_named_like_a_meta_column_is_refused():
    with pytest.raises(ValueError, match="clashes"):
        build_sheet(example_frame(), example_flags(), ["meta.camera"], {})


def test_sheet_page_escapes_hostile_categories_and_cells(tmp_path):
    frame = example_frame()
    frame["tags"] = [["font=<b>bold</b>"], [], []]
    sheet = build_sheet(frame, example_flags(), ["<img src=x onerror=alert(1)>"], {})
    files = write_sheet(sheet, np.zeros((3, 8, 8, 1), np.uint8), 16, tmp_path, "errors", "t")
    page = files.html.read_text()
    assert "<img src=x" not in page and "<b>" not in page
    assert '<th class="tick">tick:&lt;img src=x onerror=alert(1)&gt;</th>' in page
    assert "<td>&lt;b&gt;bold&lt;/b&gt;</td>" in page
