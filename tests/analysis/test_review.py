"""Reading a reviewed sheet back and the notes' table of error categories and ceilings."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from traindev.analysis.review import (
    ReviewError,
    category_table,
    correct_review_summary,
    parse_tick,
    read_review,
)
from traindev.analysis.sheet import build_sheet, sheet_categories, write_sheet

CATEGORIES = ["dog", "great_cat", "blurry", "incorrectly_labeled"]


def notes_example() -> pd.DataFrame:
    """The notes' 100 reviewed errors: 5 dogs, 43 great cats, 61 blurry (some overlap)."""
    ticks = np.zeros((100, 4), dtype=int)
    ticks[:5, 0] = 1
    ticks[5:48, 1] = 1
    ticks[39:100, 2] = 1
    sheet = pd.DataFrame({"id": [f"e{number:03d}" for number in range(100)]})
    sheet["label"], sheet["prediction"] = "not_cat", "cat"
    for position, category in enumerate(CATEGORIES):
        sheet[f"tick:{category}"] = np.where(ticks[:, position] == 1, "1", "")
    return sheet


def write_review(tmp_path, sheet: pd.DataFrame, name: str = "errors.csv"):
    path = tmp_path / name
    sheet.to_csv(path, index=False)
    return path


def test_the_notes_worked_example_ranks_categories_by_ceiling(tmp_path):
    path = write_review(tmp_path, notes_example())
    review = read_review(path, CATEGORIES)
    ids = set(review["id"])
    table = category_table(review, dev_error=0.10, misclassified_ids=ids, known_ids=ids)
    assert [row.name for row in table.rows] == ["blurry", "great_cat", "dog", "incorrectly_labeled"]
    by_name = {row.name: row for row in table.rows}
    assert by_name["dog"].count == 5 and by_name["dog"].percent_of_errors == pytest.approx(5.0)
    assert by_name["dog"].ceiling == pytest.approx(0.005)
    assert by_name["great_cat"].ceiling == pytest.approx(0.043)
    assert by_name["blurry"].ceiling == pytest.approx(0.061)
    assert by_name["incorrectly_labeled"].ceiling == 0.0
    assert table.reviewed == 100 and table.stale_ids == () and table.unknown_ids == ()
    # label and prediction hold one value on every error: no category, but said why.
    assert dict(table.skipped_columns) == {
        "label": "'not_cat' on every reviewed error",
        "prediction": "'cat' on every reviewed error",
    }
    payload = json.loads(json.dumps(table.as_dict()))
    assert payload["categories"][0] == {
        "name": "blurry",
        "kind": "tick",
        "column": "blurry",
        "value": None,
        "count": 61,
        "percent_of_errors": pytest.approx(61.0),
        "ceiling": pytest.approx(0.061),
    }
    assert list(table.to_frame()["name"]) == [row.name for row in table.rows]


def generated_sheet(tmp_path):
    """A real generated sheet of six misclassified examples with fonts and handwriting."""
    frame = pd.DataFrame(
        {
            "id": [f"e{number}" for number in range(6)],
            "split": "dev",
            "domain": ["handwritten"] * 3 + ["fonts"] * 3,
            "label": ["1", "7", "4", "9", "3", "8"],
            "prediction": ["7", "1", "9", "4", "8", "3"],
            "confidence": np.linspace(0.3, 0.9, 6),
            "tags": [["writer_set=optdigits"]] * 3 + [["font=cmr10"], ["font=cmr10"], []],
        }
    )
    flags = pd.DataFrame({"dark": [False] * 6, "blurry": [True, True, False, False, False, True]})
    sheet = build_sheet(frame, flags, ["great_cat"], {"e2": 1})
    pixels = np.zeros((6, 8, 8, 1), np.uint8)
    files = write_sheet(sheet, pixels, 16, tmp_path / "generated", "errors", "errors")
    return files.csv, sheet_categories(["great_cat"], flags=["dark", "blurry"])


def test_round_trip_through_a_reviewer_editing_with_pandas(tmp_path):
    generated, categories = generated_sheet(tmp_path)
    edited = pd.read_csv(generated)  # what a user does; ticks come back as 1.0 / NaN
    edited.loc[edited["id"].isin(["e0", "e3"]), "tick:great_cat"] = 1
    edited.loc[edited["id"] == "e5", "tick:blurry"] = np.nan  # a pre-ticked flag corrected
    edited["dog"] = np.where(edited["id"] == "e1", "x", "")  # a category invented on review
    edited["cause"] = ["glare", "", "glare", "stroke", "", ""]  # free text: a value column
    edited.loc[len(edited)] = {"id": "zz", "label": "1", "prediction": "7"}  # not in the data
    reviewed = write_review(tmp_path, edited)

    review = read_review(reviewed, categories, template=generated)
    assert review.index.tolist() == [2, 3, 4, 5, 6, 7, 8]  # spreadsheet line numbers
    assert review["dog"].dtype == bool and review["cause"].dtype == object
    all_ids = {f"e{number}" for number in range(6)}
    table = category_table(review, 0.2, misclassified_ids=all_ids - {"e4"}, known_ids=all_ids)

    assert (table.reviewed, table.errors_total) == (5, 5)
    assert table.stale_ids == ("e4",) and table.unknown_ids == ("zz",)
    counts = {row.name: row.count for row in table.rows}
    assert counts["blurry"] == 2  # e0, e1; e5's tick was removed
    assert counts["great_cat"] == 2 and counts["dog"] == 1 and counts["dark"] == 0
    assert counts["incorrectly_labeled"] == 1  # e2, pre-ticked from cleanlab
    assert counts["cause = glare"] == 2 and counts["cause = stroke"] == 1
    assert counts["domain = handwritten"] == 3 and counts["domain = fonts"] == 2
    assert counts["tag.font = cmr10"] == 1  # e3 (e4 is stale)
    assert "tag.writer_set = optdigits" in counts
    assert not any(name.startswith(("confidence", "notes", "thumbnail")) for name in counts)
    ceilings = [row.ceiling for row in table.rows]
    assert ceilings == sorted(ceilings, reverse=True)
    assert next(row for row in table.rows if row.name == "dog").ceiling == pytest.approx(0.04)


@pytest.mark.parametrize("cell", ["1", "x", "X", "yes", "Y", "TRUE", "✓", "1.0", " 1 "])
def test_ticked_spellings(cell):
    assert parse_tick(cell) is True


@pytest.mark.parametrize("cell", ["", "0", "no", "N", "false", "0.0"])
def test_unticked_spellings(cell):
    assert parse_tick(cell) is False


@pytest.mark.parametrize("cell", ["maybe", "2", "?"])
def test_other_text_is_not_a_tick(cell):
    assert parse_tick(cell) is None


def test_a_maybe_names_the_line_and_column(tmp_path):
    sheet = notes_example()
    sheet.loc[2, "tick:dog"] = "maybe"
    path = write_review(tmp_path, sheet)
    with pytest.raises(ReviewError) as error:
        read_review(path, CATEGORIES)
    message = str(error.value)
    assert str(path) in message and "line 4" in message and "'tick:dog'" in message
    assert "'maybe'" in message and "yes" in message  # lists what is accepted


def test_a_missing_category_column_is_named(tmp_path):
    path = write_review(tmp_path, notes_example().drop(columns="tick:blurry"))
    with pytest.raises(ReviewError, match=r"errors\.csv: column 'tick:blurry' is missing"):
        read_review(path, CATEGORIES)


def test_a_missing_id_column_is_named(tmp_path):
    path = write_review(tmp_path, notes_example().drop(columns="id"))
    with pytest.raises(ReviewError, match="column 'id' is missing"):
        read_review(path, CATEGORIES)


def test_a_missing_file_says_how_to_create_it(tmp_path):
    template = tmp_path / "reports" / "errors.csv"
    with pytest.raises(ReviewError) as error:
        read_review(tmp_path / "reviews" / "errors.csv", CATEGORIES, template=template)
    message = str(error.value)
    assert str(tmp_path / "reviews" / "errors.csv") in message
    assert f"Copy the generated sheet ({template})" in message and "tick" in message


def test_a_duplicate_id_names_both_lines(tmp_path):
    sheet = notes_example()
    sheet.loc[2, "id"] = sheet.loc[0, "id"]
    path = write_review(tmp_path, sheet)
    with pytest.raises(ReviewError, match="id 'e000' appears on lines 2 and 4"):
        read_review(path, CATEGORIES)


def test_a_duplicate_header_is_refused(tmp_path):
    path = tmp_path / "errors.csv"
    path.write_text("id,label,prediction,dog,dog\ne1,1,7,1,\n")
    with pytest.raises(ReviewError, match=r"line 1 names columns \['dog'\] more than once"):
        read_review(path, ["dog"])


def test_a_row_longer_than_the_header_is_refused_but_trailing_commas_are_fine(tmp_path):
    path = tmp_path / "errors.csv"
    path.write_text("id,label,prediction,dog\ne1,1,7,1,,\ne2,1,7,,glare\n")
    with pytest.raises(ReviewError, match="line 3: 5 cells but the header names 4 columns"):
        read_review(path, ["dog"])
    path.write_text("id,label,prediction,dog,\ne1,1,7,1,\n\ne2,1,7,,\n")
    review = read_review(path, ["dog"])
    assert review["dog"].to_dict() == {2: True, 4: False}  # the blank line 3 is skipped


def test_stale_rows_do_not_count_but_are_reported(tmp_path):
    review = read_review(write_review(tmp_path, notes_example()), CATEGORIES)
    ids = set(review["id"])
    now_correct = {f"e{number:03d}" for number in range(5)}  # the five dogs got fixed
    table = category_table(review, 0.1, misclassified_ids=ids - now_correct, known_ids=ids)
    assert table.stale_ids == tuple(sorted(now_correct))
    assert table.reviewed == 95
    assert next(row for row in table.rows if row.name == "dog").count == 0


def test_no_counted_rows_gives_an_empty_table(tmp_path):
    review = read_review(write_review(tmp_path, notes_example()), CATEGORIES)
    table = category_table(review, 0.1, misclassified_ids=set(), known_ids=set(review["id"]))
    assert table.reviewed == 0 and table.rows == () and len(table.stale_ids) == 100


def test_correct_review_summary_counts_label_errors_the_model_hid(tmp_path):
    sheet = notes_example().iloc[:20].copy()
    sheet["tick:incorrectly_labeled"] = ""
    sheet.loc[[3, 7], "tick:incorrectly_labeled"] = "yes"
    review = read_review(write_review(tmp_path, sheet, "correct.csv"), CATEGORIES)
    summary = correct_review_summary(review)
    assert summary == {
        "reviewed": 20,
        "incorrectly_labeled": 2,
        "percent_incorrectly_labeled": pytest.approx(10.0),
        "ids": ["e003", "e007"],
        "stale_ids": [],
    }
    still_correct = set(review["id"]) - {"e007"}
    later = correct_review_summary(review, still_correct_ids=still_correct)
    assert (later["reviewed"], later["ids"], later["stale_ids"]) == (19, ["e003"], ["e007"])


def test_a_reviewed_copy_of_the_generated_sheet_reads_unchanged(tmp_path):
    generated, categories = generated_sheet(tmp_path)
    reviewed = tmp_path / "reviews" / "errors.csv"
    reviewed.parent.mkdir()
    shutil.copy(generated, reviewed)
    review = read_review(reviewed, categories)
    assert review["blurry"].tolist() == [True, True, False, False, False, True]
    assert review["incorrectly_labeled"].tolist() == [False, False, True, False, False, False]
    assert review["tag.font"].tolist() == ["", "", "", "cmr10", "cmr10", ""]


def test_a_sheet_saved_with_semicolons_reads_the_same(tmp_path):
    path = tmp_path / "errors.csv"
    notes_example().to_csv(path, index=False, sep=";")
    review = read_review(path, CATEGORIES)
    assert int(review["great_cat"].sum()) == 43 and len(review) == 100


def test_meta_columns_are_values_never_categories_and_meta_path_is_ignored(tmp_path):
    frame = pd.DataFrame(
        {
            "id": [f"e{number}" for number in range(4)],
            "domain": "phone",
            "label": ["1", "7", "4", "9"],
            "prediction": ["7", "1", "9", "4"],
            "confidence": 0.5,
            "tags": [[]] * 4,
            "meta.path": [f"img/{number}.png" for number in range(4)],
            "meta.flash": [1.0, 0.0, 1.0, np.nan],  # looks like ticks, but is manifest data
            "meta.notes": ["", "", "", ""],  # an all-empty column would read as a category
        }
    )
    flags = pd.DataFrame({"dark": [False] * 4})
    sheet = build_sheet(frame, flags, [], {})
    files = write_sheet(sheet, np.zeros((4, 8, 8, 1), np.uint8), 16, tmp_path, "errors", "e")
    review = read_review(files.csv, sheet_categories([], flags=["dark"]))
    assert review["meta.flash"].dtype == object and review["meta.notes"].dtype == object
    ids = set(review["id"])
    table = category_table(review, 0.1, misclassified_ids=ids, known_ids=ids)
    counts = {row.name: row.count for row in table.rows}
    assert counts["meta.flash = 1"] == 2 and counts["meta.flash = 0"] == 1
    assert not any(row.column in ("meta.path", "meta.notes") for row in table.rows)
    assert "meta.path" not in dict(table.skipped_columns)


def test_a_maybe_in_a_reviewers_own_tick_column_is_refused_like_a_built_in_one(tmp_path):
    """`dog` holds ticks the reviewer added; a `maybe` among them is not a category value."""
    sheet = notes_example().drop(columns="tick:dog")
    sheet["dog"] = ["x"] * 5 + [""] * 95
    sheet.loc[3, "dog"] = "maybe"
    path = write_review(tmp_path, sheet)
    with pytest.raises(ReviewError) as error:
        read_review(path, [c for c in CATEGORIES if c != "dog"])
    message = str(error.value)
    assert str(path) in message and "line 5" in message and "column 'dog'" in message
    assert "'maybe' is not a tick" in message and "yes" in message
    assert "rename it 'value:dog'" in message  # the other reading, made explicit


def test_a_value_prefix_declares_a_reviewers_column_as_values(tmp_path):
    sheet = notes_example()
    sheet["value:dog_kind"] = ["x", "maybe", "x", "terrier", ""] + [""] * 95
    path = write_review(tmp_path, sheet)
    review = read_review(path, CATEGORIES)
    assert review["dog_kind"].dtype == object and "value:dog_kind" not in review.columns
    ids = set(review["id"])
    counts = {row.name: row.count for row in category_table(review, 0.1, ids, ids).rows}
    assert counts["dog_kind = x"] == 2 and counts["dog_kind = maybe"] == 1


def test_notes_stay_free_text_even_when_they_look_like_ticks(tmp_path):
    sheet = notes_example()
    sheet["notes"] = ["x", "maybe", "check again"] + [""] * 97
    review = read_review(write_review(tmp_path, sheet), CATEGORIES)
    ids = set(review["id"])
    table = category_table(review, 0.1, ids, ids)
    assert review["notes"].dtype == object
    assert not any(row.column == "notes" for row in table.rows)


def test_with_units_a_ceiling_counts_only_units_whose_every_error_is_in_the_category(tmp_path):
    sheet = pd.DataFrame(
        {
            "id": ["a.1", "a.2", "b.1"],
            "label": ["x", "x", "y"],
            "prediction": ["y", "y", "x"],
            "iou": ["0", "0.4", "1"],  # a value column, although "0" and "1" read as ticks
            "tick:blurry": ["1", "", "1"],
        }
    )
    path = write_review(tmp_path, sheet)
    review = read_review(path, ["blurry"], value_columns=("iou",))
    ids = set(review["id"])
    units = {key: key.split(".")[0] for key in ids}

    table = category_table(review, 0.5, ids, ids, never=("iou",), units=units)
    blurry = {row.name: row for row in table.rows}["blurry"]

    assert blurry.count == 2 and blurry.percent_of_errors == pytest.approx(200 / 3)
    assert blurry.ceiling == pytest.approx(0.5 * 1 / 2)  # only unit b is fully fixed
    assert all(row.column != "iou" for row in table.rows)
