"""A store's dataset.json is one record: each writer's kind reads back as itself, the bytes are
those the stages wrote before the schema (so DVC's store hashes stay), and a bad or stale file
is an error naming the file and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from traindev.records import ReportInputError, read_record, write_record
from traindev.records.io import record_json
from traindev.records.store import (
    KINDS,
    AugmentedMetadata,
    CanvasesMetadata,
    DigitsMetadata,
    ImagesMetadata,
    OverlayMetadata,
    SplitMetadata,
    StoreMetadata,
    StoreMetadataFile,
    SynthesizedMetadata,
)

FIXED = {"classes": ["0", "1", "10"], "pixel_max": 16, "shape": (8, 8, 1), "count": 12}
ONE_OF_EACH: list[StoreMetadata] = [
    StoreMetadata(**FIXED),
    DigitsMetadata(**FIXED, source="sklearn_digits", domain="handwritten"),
    ImagesMetadata(**FIXED, source="folder:photos", resize="letterbox"),
    SynthesizedMetadata(**FIXED, domain="synthetic", fonts=["DejaVuSans"], strokes=4),
    SynthesizedMetadata(**FIXED, domain="synthetic", fonts=[], strokes=0),  # an empty store
    OverlayMetadata(**FIXED, domain="synthetic", backgrounds="data/raw/backgrounds"),
    SplitMetadata(**FIXED, target_domain="handwritten", totals={"train": 10, "dev": 2}),
    AugmentedMetadata(**FIXED, copies=2, train_rows=6, backend="batched", seed=7),
    AugmentedMetadata(**FIXED, copies=0),  # offline_copies: 0, the default pipeline's
    CanvasesMetadata(**FIXED, objects=30, seed=0),
]


def test_every_kind_is_covered() -> None:
    assert {type(record) for record in ONE_OF_EACH} == set(KINDS)


@pytest.mark.parametrize("record", ONE_OF_EACH, ids=lambda record: type(record).KIND)
def test_a_written_store_metadata_reads_back_as_its_own_kind(
    tmp_path: Path, record: StoreMetadata
) -> None:
    path = tmp_path / "dataset.json"
    write_record(path, record)
    again = read_record(path, StoreMetadataFile).root
    assert type(again) is type(record)
    assert again == record
    assert record_json(again) == path.read_text()


def test_the_bytes_are_those_the_stages_wrote_as_a_dict() -> None:
    """Before the schema, write_manifest_and_metadata dumped a dict like this one; the default
    pipeline's stores (augmented with copies: 0 and no other facts) keep their DVC hashes."""
    facts = {"copies": 0}
    before = json.dumps({**FIXED, "shape": [8, 8, 1], **facts}, indent=2, sort_keys=True) + "\n"
    assert record_json(AugmentedMetadata(**FIXED, **facts)) == before
    facts = {"target_domain": "handwritten", "totals": {"dev": 449, "train": 1709}}
    before = json.dumps({**FIXED, "shape": [8, 8, 1], **facts}, indent=2, sort_keys=True) + "\n"
    assert record_json(SplitMetadata(**FIXED, **facts)) == before


def bad(data: dict) -> dict:
    return {**json.loads(record_json(StoreMetadata(**FIXED))), **data}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            bad({"target_domain": "h", "totals": {"dev": "many"}}),
            r"split\.totals\.dev: Input should be a valid integer.*\(got 'many'\)",
        ),
        (
            bad({"copies": 1, "backend": "gpu"}),
            r"augmented\.backend: Input should be 'albumentations' or 'batched' \(got 'gpu'\)",
        ),
        (bad({"source": "folder:x"}), r"missing field 'images\.resize'"),
        (
            bad({"kind": "split"}),  # a field no writer has: a stale or hand-edited file
            r"plain\.kind: unknown field \(a stale file\? re-run the stage that writes it\)",
        ),
        (
            {key: value for key, value in bad({}).items() if key != "count"},
            r"missing field 'plain\.count'",
        ),
        (bad({"shape": [8, 8]}), r"missing field 'plain\.shape\[2\]'"),
    ],
    ids=["wrong type", "not a backend", "missing fact", "unknown", "missing count", "short shape"],
)
def test_a_bad_field_is_named_with_the_file_and_the_kind_it_was_read_as(
    tmp_path: Path, data: dict, message: str
) -> None:
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ReportInputError, match=rf"^{re.escape(str(path))}: {message}"):
        read_record(path, StoreMetadataFile)


def test_a_writer_passing_a_fact_its_kind_lacks_fails_before_writing() -> None:
    with pytest.raises(ValueError, match="totals"):
        AugmentedMetadata(**FIXED, copies=0, totals={"train": 1})
