"""The report stage's rendering: load every input format, write HTML + Markdown atomically."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.html import parse_html
from helpers.records import ARCHS, ERRORS, SUMMARIES, THUMBNAILS, load, write_fake_inputs

from traindev.reporting import plots
from traindev.reporting.inputs import MissingReportInputError, ReportInputError
from traindev.reporting.report import ReportPaths, write_report

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
# Per architecture: learning curves, confusion, class errors (both have per-class rows);
# only mlp has a reviewed sheet, hence one ceilings chart.
FIGURES = 1 + 3 * len(ARCHS) + 1
THUMBNAILS_SHOWN = len(THUMBNAILS)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportPaths, str, str]:
    root = tmp_path_factory.mktemp("report")
    inputs = load(write_fake_inputs(root / "inputs"))
    paths = write_report(inputs, root / "out", "Digits <report>", generated_at=WHEN)
    return paths, paths.html.read_text("utf-8"), paths.markdown.read_text("utf-8")


def test_both_files_and_figures_are_written(report: tuple[ReportPaths, str, str]) -> None:
    paths, _, _ = report
    assert paths.html.is_file() and paths.markdown.is_file()
    assert paths.html.parent == paths.markdown.parent
    assert len(paths.figures) == FIGURES
    for figure in paths.figures:
        assert figure.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in paths.html.parent.iterdir()) == [
        "figures",
        "report.html",
        "report.md",
    ]


def test_html_is_self_contained(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, _ = report
    parsed = parse_html(html_text)
    for tag, _attribute, value in parsed.links:
        assert not value.lower().startswith(("http://", "https://", "//")), (tag, value)
    assert "<script" not in html_text.lower()
    assert "<link" not in html_text.lower()
    images = [value for tag, _, value in parsed.links if tag == "img"]
    assert len(images) == FIGURES + THUMBNAILS_SHOWN
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")


def test_title_time_and_escaping(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, markdown = report
    assert "<title>Digits &lt;report&gt;</title>" in html_text
    assert "2024-05-06T07:08:09+00:00" in html_text
    assert "2024-05-06T07:08:09+00:00" in markdown
    assert "<longer>" not in html_text and "&lt;longer&gt;" in html_text
    assert "train-dev" in html_text.lower() and "target distribution" in html_text


def test_the_report_is_a_function_of_its_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DVC output: the same inputs give the same bytes, so no wall-clock date unless
    SOURCE_DATE_EPOCH (the reproducible-builds convention) sets one."""
    inputs = load(write_fake_inputs(tmp_path / "inputs"))
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = write_report(inputs, tmp_path / "first", "t")
    second = write_report(inputs, tmp_path / "second", "t")
    for a, b in ((first.html, second.html), (first.markdown, second.markdown)):
        assert a.read_bytes() == b.read_bytes()
    assert "Generated" not in first.html.read_text("utf-8")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1715000000")
    dated = write_report(inputs, tmp_path / "dated", "t")
    assert "Generated 2024-05-06T12:53:20+00:00" in dated.html.read_text("utf-8")


def test_split_summary_tables(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, _ = report
    tables = [rows for _, rows in parse_html(html_text).tables]
    assert ["Split", "Examples"] in tables[0]
    assert ["Train-dev", "15"] in tables[0]
    assert tables[1][0] == ["Split", "fonts", "handwritten (target)", "Total"]
    assert ["Train", "135", "11", "146"] in tables[1]
    assert tables[2][0] == ["Split", "0", "1", "2"]
    assert ["Train", "55", "46", "45"] in tables[2]
    assert "Duplicates dropped: 3" in html_text
    assert "Unused target examples (not assigned to any split): 7" in html_text


def test_comparison_table_lists_architectures_and_marks_best(
    report: tuple[ReportPaths, str, str],
) -> None:
    _, html_text, _ = report
    (comparison,) = [rows for css, rows in parse_html(html_text).tables if css == "comparison"]
    header, *rows = comparison
    assert header[0] == "Architecture" and "Dev error" in header
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(by_name) == set(ARCHS)
    assert by_name["mlp"]["Dev error"] == "12.34%"
    assert by_name["mlp"]["Parameters"] == "1,234,567"
    assert by_name["mlp"]["Train-dev error"] == "6.34%"
    assert by_name["small_cnn"]["Dev error"] == "8.15% ★"
    assert by_name["small_cnn"]["Dev F1"] == "0.9175"
    assert '<tr class="best"><td>small_cnn</td>' in html_text


def test_bias_variance_table_per_architecture(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, _ = report
    tables = [rows for css, rows in parse_html(html_text).tables if css == "bias-variance"]
    assert len(tables) == len(ARCHS)
    for arch, (header, *rows) in zip(ARCHS, tables, strict=True):
        assert header == [
            "Level", "Error", "Error 95% CI", "Gap to next level", "Gap", "Gap 95% CI", "Matters"
        ]  # fmt: skip
        cells = [dict(zip(header, row, strict=True)) for row in rows]
        assert [row["Level"] for row in cells] == [
            "Human-level", "Train", "Train-dev", "Dev", "Test"
        ]  # fmt: skip
        gaps = [row["Gap to next level"] for row in cells if row["Gap to next level"]]
        assert gaps == ["Avoidable bias", "Variance", "Data mismatch", "Overfitting to dev"]
        human, train, *_ = ERRORS[arch]
        assert cells[1]["Error"] == f"{train * 100:.2f}%"
        assert cells[0]["Gap"] == f"{(train - human) * 100:.2f}%"
        assert cells[2]["Matters"] == "yes (dominant)"


def test_diagnosis_and_knobs_appear(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, markdown = report
    assert "High avoidable bias &amp; data mismatch: train &lt;longer&gt; first." in html_text
    assert SUMMARIES["small_cnn"] in html_text
    # mlp: avoidable bias (4.12%) and data mismatch (6.00%) matter; the knobs are listed.
    assert "<li>avoidable_bias knob A</li>" in html_text
    assert "<li>data_mismatch knob &lt;B&gt;</li>" in html_text
    assert "variance knob A" not in html_text
    assert "Data mismatch dominates; collect more target-like data." in markdown
    assert "  - data\\_mismatch knob \\<B\\>" in markdown


def test_markdown_figures_exist_and_tables_render(report: tuple[ReportPaths, str, str]) -> None:
    paths, _, markdown = report
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert len(images) == FIGURES
    for relative in images:
        assert not Path(relative).is_absolute()
        assert (paths.markdown.parent / relative).is_file(), relative
    assert "| Human-level | 1.00% | — | Avoidable bias | 4.12% | 2.10% to 6.14% | yes |" in markdown
    assert "| **small\\_cnn** |" in markdown and "**8.15% ★**" in markdown


def test_missing_metrics_file_names_the_path(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path)
    missing = dirs["metrics"] / "small_cnn.json"
    missing.unlink()
    with pytest.raises(MissingReportInputError, match=re.escape(str(missing))):
        load(dirs)


def test_malformed_inputs_name_file_and_key(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path)
    training = dirs["models"] / "mlp" / "training.json"
    data = json.loads(training.read_text())
    data["history"][1]["dev_error"] = "oops"
    training.write_text(json.dumps(data))
    with pytest.raises(ReportInputError, match=r"training\.json: history\[1\]\.dev_error"):
        load(dirs)
    training.write_text("{not json")
    with pytest.raises(ReportInputError, match="not valid JSON"):
        load(dirs)
    training.write_text(json.dumps(data | {"history": []}))
    confusion = dirs["evaluation"] / "mlp" / "confusion_dev.csv"
    confusion.write_text("label,0,1\n0,3,x\n")
    with pytest.raises(ReportInputError, match=rf"{re.escape(str(confusion))}: line 2"):
        load(dirs)


def test_failed_rendering_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = load(write_fake_inputs(tmp_path / "inputs"))
    out_dir = tmp_path / "out" / "report"

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("plot failed")

    monkeypatch.setattr(plots, "confusion_matrix_png", broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        write_report(inputs, out_dir, "t", generated_at=WHEN)
    assert not out_dir.exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_failed_rewrite_keeps_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = load(write_fake_inputs(tmp_path / "inputs"))
    out_dir = tmp_path / "out"
    write_report(inputs, out_dir, "first", generated_at=WHEN)
    before = {p: p.read_bytes() for p in out_dir.rglob("*") if p.is_file()}

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("traindev.reporting.report._install", broken)
    with pytest.raises(OSError, match="disk full"):
        write_report(inputs, out_dir, "second", generated_at=WHEN)
    after = {p: p.read_bytes() for p in out_dir.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "out"]


def test_rewrite_replaces_report_and_stale_figures(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    out_dir = tmp_path / "out"
    write_report(load(dirs), out_dir, "first", generated_at=WHEN)
    (out_dir / "keep.txt").write_text("not ours")
    one = load(dirs, ("small_cnn",))
    paths = write_report(one, out_dir, "second", generated_at=WHEN)
    assert "<title>second</title>" in paths.html.read_text("utf-8")
    assert sorted(p.name for p in paths.figures_dir.iterdir()) == sorted(
        p.name for p in paths.figures
    )
    assert (out_dir / "keep.txt").read_text() == "not ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "out"]
