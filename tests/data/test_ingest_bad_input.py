"""Every kind of bad input is reported with its file or row: fail (default) or skip."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers.ingest_inputs import distinct_image, folder_params, make_folder, run_ingest, save
from PIL import Image

from traindev.cli import main
from traindev.config import IngestParams
from traindev.data.sources.problems import BadInputError
from traindev.data.store import read_store

GOOD = {"d": {"a": 2, "b": 2}}  # four good images beside each broken one


def _truncated(root: Path) -> None:
    data = save(root / "d" / "a" / "full.png", distinct_image(99, (16, 16, 3))).read_bytes()
    (root / "d" / "a" / "full.png").write_bytes(data[: len(data) // 2])


def _zero_bytes(root: Path) -> None:
    (root / "d" / "a" / "empty.png").write_bytes(b"")


def _text_named_png(root: Path) -> None:
    (root / "d" / "b" / "notes.png").write_text("not an image")


def _gif_named_png(root: Path) -> None:
    Image.fromarray(distinct_image(98)).save(root / "d" / "b" / "anim.png", format="GIF")


def _unsupported_suffix(root: Path) -> None:
    Image.fromarray(distinct_image(97)).save(root / "d" / "b" / "anim.gif")


def _empty_class_folder(root: Path) -> None:
    (root / "d" / "c").mkdir()


def _file_outside_class_folder(root: Path) -> None:
    save(root / "d" / "stray.png", distinct_image(96))


FOLDER_CASES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "truncated": (_truncated, "d/a/full.png", "unreadable or truncated image"),
    "zero_byte": (_zero_bytes, "d/a/empty.png", r"empty file \(0 bytes\)"),
    "not_an_image": (_text_named_png, "d/b/notes.png", "not an image PIL can identify"),
    "unsupported_content": (_gif_named_png, "d/b/anim.png", "unsupported format GIF"),
    "unsupported_suffix": (_unsupported_suffix, "d/b/anim.gif", r"unsupported format \.gif"),
    "empty_class_folder": (_empty_class_folder, "d/c", "empty class folder"),
    "outside_class_folder": (
        _file_outside_class_folder,
        "d/stray.png",
        "file outside a class folder",
    ),
}


@pytest.mark.parametrize("case", sorted(FOLDER_CASES))
def test_bad_file_fails_by_default_naming_it_and_writes_nothing(tmp_path, case):
    breaker, where, reason = FOLDER_CASES[case]
    root = make_folder(tmp_path / "f", GOOD)
    breaker(root)
    with pytest.raises(BadInputError, match=rf"1 bad input\(s\)(.|\n)*{where}: {reason}"):
        run_ingest(tmp_path, folder_params(root))
    assert not (tmp_path / "ingested").exists() and not (tmp_path / "reports").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no staging directory left behind


@pytest.mark.parametrize("case", sorted(FOLDER_CASES))
def test_bad_file_is_skipped_listed_and_counted_under_skip(tmp_path, case):
    breaker, where, reason = FOLDER_CASES[case]
    root = make_folder(tmp_path / "f", GOOD)
    breaker(root)
    message = run_ingest(tmp_path, folder_params(root, on_bad_input="skip"))
    skipped = pd.read_csv(tmp_path / "reports" / "skipped.csv")
    assert skipped["where"].tolist() == [where]
    assert skipped["reason"].str.contains(reason).all()
    assert json.loads((tmp_path / "reports" / "summary.json").read_text())["skipped"] == 1
    assert "skipped 1" in message
    assert len(read_store(tmp_path / "ingested").manifest) == 4


def test_one_run_lists_every_kind_of_bad_input(tmp_path):
    """An empty class folder is found by the scan, a corrupt PNG and a zero-byte file only by
    decoding: the first run names all three, so no second run is needed to find the rest."""
    root = make_folder(tmp_path / "f", GOOD)
    for breaker in (_empty_class_folder, _truncated, _zero_bytes):
        breaker(root)
    with pytest.raises(BadInputError) as caught:
        run_ingest(tmp_path, folder_params(root))
    text = str(caught.value)
    assert "3 bad input(s)" in text
    assert "d/c: empty class folder" in text
    assert "d/a/full.png: unreadable or truncated image" in text
    assert "d/a/empty.png: empty file (0 bytes)" in text
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # nothing half-written


def test_a_data_set_problem_also_lists_the_bad_files(tmp_path):
    root = make_folder(tmp_path / "f", {"d": {"a": 2}})
    _empty_class_folder(root)
    with pytest.raises(BadInputError) as caught:
        run_ingest(tmp_path, folder_params(root))
    text = str(caught.value)
    assert "only one class ('a')" in text and "d/c: empty class folder" in text


def test_label_outside_the_class_list_names_every_file(tmp_path):
    root = make_folder(tmp_path / "f", {"d": {"a": 2, "b": 2, "zebra": 2}})
    with pytest.raises(BadInputError, match=r"2 bad input(.|\n)*d/zebra/0.png: label 'zebra'"):
        run_ingest(tmp_path, folder_params(root, classes=["a", "b"]))
    run_ingest(tmp_path, folder_params(root, classes=["a", "b"], on_bad_input="skip"))
    assert pd.read_csv(tmp_path / "reports" / "skipped.csv")["where"].tolist() == [
        "d/zebra/0.png",
        "d/zebra/1.png",
    ]
    assert read_store(tmp_path / "ingested").classes == ["a", "b"]


def test_error_lists_the_first_twenty_problems_and_the_count(tmp_path):
    root = make_folder(tmp_path / "f", GOOD)
    for index in range(25):
        (root / "d" / "a" / f"z{index:02d}.png").write_bytes(b"")
    with pytest.raises(BadInputError) as caught:
        run_ingest(tmp_path, folder_params(root))
    text = str(caught.value)
    assert "25 bad input(s)" in text and "... and 5 more" in text
    assert text.count("empty file (0 bytes)") == 20


def test_manifest_rows_are_named_by_number(tmp_path):
    for index in range(4):
        save(tmp_path / f"{index}.png", distinct_image(index))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    manifest = tmp_path / "labels.csv"
    pd.DataFrame(
        {
            "path": ["0.png", "missing.png", "1.png", "2.png", "3.png", "broken.png", "0.png"],
            "label": ["a", "a", "b", None, "c", "a", "b"],
            "domain": ["d"] * 7,
        }
    ).to_csv(manifest, index=False)
    params = dict(source="manifest", manifest=str(manifest), image_size=(8, 8), workers=1)
    with pytest.raises(BadInputError) as caught:
        run_ingest(tmp_path, IngestParams(**params, classes=["a", "b"]))
    text = str(caught.value)
    assert "labels.csv row 2 (line 3): file not found" in text
    assert "labels.csv row 4 (line 5): empty label" in text
    assert "labels.csv row 5 (line 6): label 'c' is not in ingest.classes" in text
    assert "4 bad input(s)" in text and "labels.csv row 6 (line 7)" in text  # decoded too

    run_ingest(tmp_path, IngestParams(**params, classes=["a", "b"], on_bad_input="skip"))
    skipped = pd.read_csv(tmp_path / "reports" / "skipped.csv")
    assert [where.split(" (")[0] for where in skipped["where"]] == [
        "labels.csv row 2",
        "labels.csv row 4",
        "labels.csv row 5",
        "labels.csv row 6",
    ]
    assert "truncated" in skipped["reason"].iloc[3] or "identify" in skipped["reason"].iloc[3]
    assert len(read_store(tmp_path / "ingested").manifest) == 3


@pytest.mark.parametrize("policy", ["fail", "skip"])
def test_one_class_only_fails_under_either_policy(tmp_path, policy):
    root = make_folder(tmp_path / "f", {"d": {"a": 3}, "e": {"a": 2}})
    with pytest.raises(BadInputError, match=r"only one class \('a'\)"):
        run_ingest(tmp_path, folder_params(root, on_bad_input=policy))
    assert not (tmp_path / "ingested").exists()


def test_skipping_that_leaves_one_class_still_fails(tmp_path):
    root = make_folder(tmp_path / "f", {"d": {"a": 3, "b": 1}})
    (root / "d" / "b" / "0.png").write_bytes(b"")
    with pytest.raises(BadInputError, match="only one class"):
        run_ingest(tmp_path, folder_params(root, on_bad_input="skip"))


@pytest.mark.parametrize("policy", ["fail", "skip"])
def test_domain_named_in_params_but_absent_fails(tmp_path, policy):
    root = make_folder(tmp_path / "f", GOOD)
    with pytest.raises(
        BadInputError, match=r"\['phone'\] named in ingest.domains.*present: \['d'\]"
    ):
        run_ingest(tmp_path, folder_params(root, domains=["d", "phone"], on_bad_input=policy))


def test_missing_or_empty_root(tmp_path):
    with pytest.raises(BadInputError, match=r"ingest\.root: .* is not a folder"):
        run_ingest(tmp_path, folder_params(tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="no usable images"):
        run_ingest(tmp_path, folder_params(tmp_path / "empty"))


def test_cli_reports_bad_input_and_exits_2(tmp_path, monkeypatch, capsys, default_params):
    root = make_folder(tmp_path / "f", GOOD)
    (root / "d" / "a" / "empty.png").write_bytes(b"")
    default_params["ingest"].update(source="folder", root="f", image_size=[8, 8])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(default_params))
    monkeypatch.chdir(tmp_path)
    assert main(["ingest"]) == 2
    error = capsys.readouterr().err
    assert "d/a/empty.png: empty file (0 bytes)" in error and "on_bad_input: skip" in error
    assert list((tmp_path / "data").iterdir()) == []  # no store, no staging directory
    assert not (tmp_path / "reports").exists()
