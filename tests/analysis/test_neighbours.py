"""Each sheet row beside its nearest training examples (issue 19 item 5): on two domains with
a controlled blur, a target-domain error's neighbours come from the target's own training
rows, and the sheet and its review carry them as values, never as ticks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from helpers.shifted_domains import SOURCE, TARGET, blurred_target_store

from traindev.analysis.neighbours import nearest, neighbour_column, neighbour_columns
from traindev.analysis.properties import FLAG_NAMES
from traindev.analysis.review import category_table, read_review
from traindev.analysis.sheet import TRAIN_PREFIX, build_sheet, sheet_categories, write_sheet
from traindev.models.params import ARCHITECTURE_PARAMS
from traindev.models.registry import build_model
from traindev.params_file import validate_params
from traindev.stages.analyze import _neighbours, _train_columns

K = 3


@pytest.fixture(scope="module")
def store():
    return blurred_target_store()


@pytest.fixture
def found(store, default_params):
    """Dev row -> store rows of its K nearest training examples, by an untrained deep_nn."""
    default_params["analyze"]["errors"]["neighbours"] = K
    params = validate_params(default_params)
    torch.manual_seed(0)
    model = build_model(
        "deep_nn", ARCHITECTURE_PARAMS["deep_nn"](), store.image_shape, len(store.classes)
    )
    pool = np.flatnonzero(store.manifest["split"] == "train")
    dev = np.flatnonzero(store.manifest["split"] == "dev")
    return _neighbours(model, store, pool, dev, params)


def dev_frame(store) -> pd.DataFrame:
    """Every dev row as a sheet frame, each one wrong (the sheet's rows are dev errors)."""
    manifest = store.manifest
    dev = manifest[manifest["split"] == "dev"]
    wrong = [str((int(label) + 1) % 3) for label in dev["label"]]
    return dev[["id", "label", "domain", "tags"]].assign(
        prediction=wrong, confidence=0.9, row=dev.index.to_numpy()
    )


def test_nearest_orders_each_querys_pool_rows_by_distance():
    pool = np.array([[0.0, 0.0], [10.0, 0.0], [1.0, 0.0], [4.0, 0.0]])
    result = nearest(np.array([[0.9, 0.0], [9.0, 0.0]]), pool, 2)
    assert result.positions.tolist() == [[2, 0], [1, 3]]
    assert result.distances[0] == pytest.approx([0.1, 0.9])
    assert nearest(np.zeros((2, 2)), pool[:1], 5).positions.shape == (2, 1)  # capped at pool


def test_a_target_errors_neighbours_come_from_the_target_domain(store, found):
    domains = store.manifest["domain"].to_numpy()
    labels = store.manifest["label"].to_numpy()
    assert len(found) == 40 and all(len(rows) == K for rows in found.values())
    for row, neighbours in found.items():
        assert domains[row] == TARGET
        assert (domains[neighbours] == TARGET).all()  # never the crisp source
        assert (store.manifest["split"].to_numpy()[neighbours] == "train").all()
    same_label = np.mean([labels[rows[0]] == labels[row] for row, rows in found.items()])
    assert same_label > 0.9


def test_the_sheet_shows_each_neighbour_and_its_review_reads_domains_as_values(
    store, found, tmp_path
):
    frame = dev_frame(store)
    train_flags = pd.DataFrame({"blurry": True}, index=frame.index)
    computed, pixels = _train_columns(frame, train_flags, found, store, K)
    flags = pd.DataFrame({name: False for name in FLAG_NAMES}, index=frame.index)
    sheet = build_sheet(frame, flags, [], {}, computed)
    header = list(sheet.columns)
    ticks = [column for column in header if column.startswith("tick:")]
    trained = [column for column in header if column.startswith(TRAIN_PREFIX)]
    assert trained == ["train.blurry"] + [
        neighbour_column(rank, field, TRAIN_PREFIX)
        for rank in range(1, K + 1)
        for field in ("id", "domain", "label")
    ]
    assert header.index(trained[-1]) < header.index(ticks[0])  # computed, then the ticks
    assert set(sheet["train.neighbour1.domain"]) == {TARGET}

    files = write_sheet(sheet, store.pixels[sheet.index], 16, tmp_path, "errors", "t")
    html = files.html.read_text()
    neighbour_ids = set(sheet[[f"train.neighbour{rank}.id" for rank in (1, 2, 3)]].stack())
    assert html.count("<img") == len(sheet)  # without their pixels: ids as text
    files = write_sheet(
        sheet, store.pixels[sheet.index], 16, tmp_path, "errors", "t", neighbour_pixels=pixels
    )
    html = files.html.read_text()
    assert set(pixels) == neighbour_ids
    assert html.count("<img") == len(sheet) * (1 + K)
    assert all((tmp_path / f"thumbnails/{ident}.png").is_file() for ident in neighbour_ids)

    # Labels "0" / "1" in a neighbour column look like ticks; they must stay values.
    review = read_review(files.csv, sheet_categories([]))
    table = category_table(review, 0.2, set(frame["id"]), set(store.manifest["id"]))
    names = {row.name for row in table.rows}
    assert not any(name.startswith("train.neighbour1.id") for name in names)
    assert {f"train.neighbour1.label = {label}" for label in ("0", "1", "2")} <= names
    skipped = dict(table.skipped_columns)
    assert skipped["train.neighbour1.domain"] == f"'{TARGET}' on every reviewed error"
    assert skipped["train.blurry"] == "'1' on every reviewed error"
    assert all(not column.endswith(".id") for column in skipped)


def test_neighbour_columns_leave_ranks_past_the_pool_empty():
    columns = neighbour_columns(
        np.array([[1], [0]]), {"id": ["a", "b"], "domain": [SOURCE, TARGET], "label": ["0", "1"]},
        2, TRAIN_PREFIX,
    )  # fmt: skip
    assert columns["train.neighbour1.id"] == ["b", "a"]
    assert columns["train.neighbour2.domain"] == ["", ""]


def test_an_empty_sheet_gets_empty_neighbour_columns(store, found):
    """A model right on every dev example (or wrong on every one) leaves one sheet empty;
    analyze crashed reshaping its no neighbours (found on a real two-domain run)."""
    frame = dev_frame(store).iloc[:0]
    train_flags = pd.DataFrame({"blurry": True}, index=dev_frame(store).index)
    computed, pixels = _train_columns(frame, train_flags, found, store, K)
    assert pixels == {}
    assert computed["train.blurry"] == [] and computed["train.neighbour3.label"] == []
    assert neighbour_columns(np.zeros((0, 2)), {}, 1, TRAIN_PREFIX) == {
        neighbour_column(1, field, TRAIN_PREFIX): [] for field in ("id", "domain", "label")
    }
