"""The report's "Are dev and test big enough?" table, from the split stage's confidence block."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from helpers.html import parse_html
from helpers.records import ARCHS, load, write_fake_inputs

from traindev.data.split_confidence import split_confidence
from traindev.reporting.report import load_report_inputs, write_report

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def with_confidence(dirs: dict[str, Path], n_dev: int, n_test: int, near: dict | None) -> None:
    path = dirs["split"] / "summary.json"
    summary = json.loads(path.read_text())
    summary["confidence"], summary["warnings"] = split_confidence(n_dev, n_test, 0.03, 0.01)
    if near is not None:
        summary["near_duplicates"] = near
    path.write_text(json.dumps(summary))


def test_a_small_dev_set_is_flagged_with_the_examples_it_would_need(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    with_confidence(dirs, 449, 449, {"enabled": True, "max_distance": 4, "dropped": 25})
    paths = write_report(load(dirs), tmp_path / "out", "t", generated_at=WHEN)

    tables = parse_html(paths.html.read_text("utf-8"))
    table = next(rows for _, rows in tables.tables if rows[0][0] == "Set")
    assert table[1][:6] == ["Dev", "449", "±1.58%", "2.23%", "2,236", "no"]
    assert table[2][0] == "Test" and table[2][3] == "—" and table[2][5] == "no"
    markdown = paths.markdown.read_text("utf-8")
    assert "### Are dev and test big enough?" in markdown
    assert "dev set too small: 449 examples" in markdown
    assert "Near-duplicates of dev/test dropped from train: 25." in markdown


def test_a_dev_set_big_enough_shows_no_warning(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    with_confidence(dirs, 5000, 2000, {"enabled": False, "max_distance": 4, "dropped": 0})
    markdown = write_report(load(dirs), tmp_path / "out", "t", generated_at=WHEN).markdown
    text = markdown.read_text("utf-8")
    assert "| Dev | 5,000 |" in text and "| yes |" in text
    assert "Warnings:" not in text.split("## Augmentation")[0]
    assert "Near-duplicates" not in text


def test_a_narrow_synthetic_pool_is_warned_about_in_the_report(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    diversity = tmp_path / "diversity.json"
    diversity.write_text(
        json.dumps(
            {
                "source": "fonts",
                "count": 300,
                "coverage": 0.8,
                "min_effective_sources": 5,
                "narrow": True,
                "warnings": ["narrow pool: 2 fonts make up 80% of the 300 synthetic images"],
                "pools": {
                    "fonts": {
                        "distinct": 2,
                        "images": 300,
                        "effective": 1.96,
                        "inverse_simpson": 1.9,
                        "top_share": 0.6,
                        "covering": 2,
                        "shares": {"a": 0.6, "b": 0.4},
                    }
                },
            }
        )
    )
    inputs = load_report_inputs(
        split_dir=dirs["split"],
        models_dir=dirs["models"],
        evaluation_dir=dirs["evaluation"],
        metrics_dir=dirs["metrics"],
        analysis_dir=dirs["analysis"],
        selection_file=dirs["selection"],
        architectures=list(ARCHS),
        synthesis_file=diversity,
    )
    text = write_report(inputs, tmp_path / "out", "t", generated_at=WHEN).markdown.read_text()
    assert "### Synthetic data" in text
    assert "| fonts | 300 | 2 | 2.0 | 60.00% | 2 |" in text
    assert "narrow pool: 2 fonts make up 80%" in text


def test_a_class_missing_from_dev_and_test_reaches_the_split_section(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    path = dirs["split"] / "summary.json"
    summary = json.loads(path.read_text())
    warning = "class 'bird' has no example in dev, test: only domain(s) synthetic have it"
    summary["missing_classes"] = {"dev": ["bird"], "test": ["bird"]}
    summary["warnings"] = [*summary["warnings"], warning]
    path.write_text(json.dumps(summary))
    markdown = write_report(load(dirs), tmp_path / "out", "t", generated_at=WHEN).markdown
    splits = markdown.read_text("utf-8").split("## Data splits")[1].split("\n## ")[0]
    assert "Classes with no example in a split (see the warnings below): Dev: bird; " in splits
    assert warning in splits
