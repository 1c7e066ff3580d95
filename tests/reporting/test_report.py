"""The report stage's rendering: load the four input formats, write HTML + Markdown atomically."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from traindev.reporting import plots
from traindev.reporting.inputs import MissingReportInputError, ReportInputError
from traindev.reporting.report import ReportPaths, load_report_inputs, write_report

ARCHS = ("mlp", "small_cnn")
CLASSES = ("0", "1", "2")
# Per architecture: human, train, train-dev, dev, test error.
ERRORS = {
    "mlp": (0.01, 0.0512, 0.0634, 0.1234, 0.1301),
    "small_cnn": (0.01, 0.0200, 0.0250, 0.0815, 0.0790),
}
SUMMARIES = {
    "mlp": "High avoidable bias & data mismatch: train <longer> first.",
    "small_cnn": "Data mismatch dominates; collect more target-like data.",
}
GAP_LABELS = {
    "avoidable_bias": ("Avoidable bias", "human-level", "train"),
    "variance": ("Variance", "train", "train-dev"),
    "data_mismatch": ("Data mismatch", "train-dev", "dev"),
    "dev_overfitting": ("Dev overfitting", "dev", "test"),
}
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def _dump(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def _metrics(errors: tuple[float, ...]) -> dict:
    human, train, train_dev, dev, test = errors
    splits = {
        name: {
            "error": err,
            "accuracy": 1 - err,
            "precision": 1 - err,
            "recall": 1 - err,
            "f1": 1 - err - 0.001,
            "count": 100,
        }
        for name, err in zip(("train", "train_dev", "dev", "test"), errors[1:], strict=True)
    }
    return {
        "splits": splits,
        "bias_variance": {
            "human_level_error": human,
            "train_error": train,
            "train_dev_error": train_dev,
            "dev_error": dev,
            "test_error": test,
            "avoidable_bias": train - human,
            "variance": train_dev - train,
            "data_mismatch": dev - train_dev,
            "dev_overfitting": test - dev,
        },
    }


def _diagnosis(arch: str, errors: tuple[float, ...]) -> dict:
    gaps = []
    for index, (name, (label, low, high)) in enumerate(GAP_LABELS.items()):
        value = errors[index + 1] - errors[index]
        gaps.append(
            {
                "name": name,
                "label": label,
                "value": value,
                "between": [low, high],
                "matters": name in ("avoidable_bias", "data_mismatch") and value > 0.03,
                "knobs": [f"{name} knob A", f"{name} knob <B>"],
            }
        )
    return {"gaps": gaps, "dominant": "data_mismatch", "summary": SUMMARIES[arch]}


def write_fake_inputs(root: Path) -> dict[str, Path]:
    """A tiny, consistent set of the four input formats for two architectures."""
    dirs = {name: root / name for name in ("split", "models", "evaluation", "metrics")}
    _dump(
        dirs["split"] / "summary.json",
        {
            "counts": {
                "train": {"fonts": {"0": 50, "1": 40, "2": 45}, "handwritten": {"0": 5, "1": 6}},
                "train_dev": {"fonts": {"0": 5, "1": 4, "2": 6}},
                "dev": {"handwritten": {"0": 10, "1": 9, "2": 11}},
                "test": {"handwritten": {"0": 9, "1": 10, "2": 12}},
            },
            "totals": {"train": 146, "train_dev": 15, "dev": 30, "test": 31},
            "target_domain": "handwritten",
            "unused_target": 7,
            "duplicates_dropped": 3,
        },
    )
    for arch in ARCHS:
        errors = ERRORS[arch]
        history = [
            {
                "epoch": epoch,
                "loss": 1.0 / epoch,
                "train_error": errors[1] + 0.1 / epoch,
                "train_dev_error": errors[2] + 0.1 / epoch,
                "dev_error": errors[3] + 0.1 / epoch,
                "lr": 0.001,
            }
            for epoch in (1, 2, 3)
        ]
        _dump(
            dirs["models"] / arch / "training.json",
            {
                "architecture": arch,
                "run_id": f"run-{arch}",
                "parameters": 1234567 if arch == "mlp" else 98765,
                "train_seconds": 12.345,
                "device": "cpu",
                "epochs": 3,
                "examples_per_second": 4321.5,
                "history": history,
            },
        )
        _dump(dirs["metrics"] / f"{arch}.json", _metrics(errors))
        _dump(dirs["evaluation"] / arch / "diagnosis.json", _diagnosis(arch, errors))
        (dirs["evaluation"] / arch / "confusion_dev.csv").write_text(
            "label,0,1,2\n0,9,1,0\n1,0,8,1\n2,1,0,10\n", encoding="utf-8"
        )
    return dirs


def _load(dirs: dict[str, Path]):
    return load_report_inputs(
        dirs["split"], dirs["models"], dirs["evaluation"], dirs["metrics"], list(ARCHS)
    )


class _Tables(HTMLParser):
    """Collects every <table> as (class attribute, rows of cell texts) and every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.links.append((tag, name, value))
        if tag == "table":
            self.tables.append((dict(attrs).get("class") or "", []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(html_text: str) -> _Tables:
    parser = _Tables()
    parser.feed(html_text)
    return parser


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportPaths, str, str]:
    root = tmp_path_factory.mktemp("report")
    inputs = _load(write_fake_inputs(root / "inputs"))
    paths = write_report(inputs, root / "out", "Digits <report>", generated_at=WHEN)
    return paths, paths.html.read_text("utf-8"), paths.markdown.read_text("utf-8")


def test_both_files_and_figures_are_written(report: tuple[ReportPaths, str, str]) -> None:
    paths, _, _ = report
    assert paths.html.is_file() and paths.markdown.is_file()
    assert paths.html.parent == paths.markdown.parent
    assert len(paths.figures) == 1 + 2 * len(ARCHS)
    for figure in paths.figures:
        assert figure.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in paths.html.parent.iterdir()) == [
        "figures",
        "report.html",
        "report.md",
    ]


def test_html_is_self_contained(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, _ = report
    parsed = _parse(html_text)
    for tag, _attribute, value in parsed.links:
        assert not value.lower().startswith(("http://", "https://", "//")), (tag, value)
    assert "<script" not in html_text.lower()
    assert "<link" not in html_text.lower()
    images = [value for tag, _, value in parsed.links if tag == "img"]
    assert len(images) == 1 + 2 * len(ARCHS)
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


def test_split_summary_tables(report: tuple[ReportPaths, str, str]) -> None:
    _, html_text, _ = report
    tables = [rows for _, rows in _parse(html_text).tables]
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
    (comparison,) = [rows for css, rows in _parse(html_text).tables if css == "comparison"]
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
    tables = [rows for css, rows in _parse(html_text).tables if css == "bias-variance"]
    assert len(tables) == len(ARCHS)
    for arch, (header, *rows) in zip(ARCHS, tables, strict=True):
        assert header[:3] == ["Level", "Error", "Gap to next level"]
        assert [row[0] for row in rows] == ["Human-level", "Train", "Train-dev", "Dev", "Test"]
        gaps = [row[2] for row in rows if row[2]]
        assert gaps == ["Avoidable bias", "Variance", "Data mismatch", "Overfitting to dev"]
        human, train, *_ = ERRORS[arch]
        assert rows[1][1] == f"{train * 100:.2f}%"
        assert rows[0][3] == f"{(train - human) * 100:.2f}%"
        assert rows[2][4] == "yes (dominant)"


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
    assert len(images) == 1 + 2 * len(ARCHS)
    for relative in images:
        assert not Path(relative).is_absolute()
        assert (paths.markdown.parent / relative).is_file(), relative
    assert "| Human-level | 1.00% | Avoidable bias | 4.12% | yes |" in markdown
    assert "| **small\\_cnn** |" in markdown and "**8.15% ★**" in markdown


def test_missing_metrics_file_names_the_path(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path)
    missing = dirs["metrics"] / "small_cnn.json"
    missing.unlink()
    with pytest.raises(MissingReportInputError, match=re.escape(str(missing))):
        _load(dirs)


def test_malformed_inputs_name_file_and_key(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path)
    training = dirs["models"] / "mlp" / "training.json"
    data = json.loads(training.read_text())
    data["history"][1]["dev_error"] = "oops"
    training.write_text(json.dumps(data))
    with pytest.raises(ReportInputError, match=r"training\.json: history\[1\]\.dev_error"):
        _load(dirs)
    training.write_text("{not json")
    with pytest.raises(ReportInputError, match="not valid JSON"):
        _load(dirs)
    training.write_text(json.dumps(data | {"history": []}))
    confusion = dirs["evaluation"] / "mlp" / "confusion_dev.csv"
    confusion.write_text("label,0,1\n0,3,x\n")
    with pytest.raises(ReportInputError, match=rf"{re.escape(str(confusion))}: line 2"):
        _load(dirs)


def test_failed_rendering_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = _load(write_fake_inputs(tmp_path / "inputs"))
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
    inputs = _load(write_fake_inputs(tmp_path / "inputs"))
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
    write_report(_load(dirs), out_dir, "first", generated_at=WHEN)
    (out_dir / "keep.txt").write_text("not ours")
    one = load_report_inputs(
        dirs["split"], dirs["models"], dirs["evaluation"], dirs["metrics"], ["small_cnn"]
    )
    paths = write_report(one, out_dir, "second", generated_at=WHEN)
    assert "<title>second</title>" in paths.html.read_text("utf-8")
    assert sorted(p.name for p in paths.figures_dir.iterdir()) == sorted(
        p.name for p in paths.figures
    )
    assert (out_dir / "keep.txt").read_text() == "not ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "out"]
