"""The report's section "Does the source data help?": the arms, the paired differences and the
verdict for each architecture with a `traindev source-ablation` record, one line otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers.ablation import arms
from helpers.records import ARCHS, load, write_fake_inputs

from traindev.evaluation.source_ablation import judge
from traindev.records import ReportInputError, write_record
from traindev.reporting.report import load_report_inputs, write_report

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


def inputs_with_ablation(tmp_path: Path, records: dict[str, object], split_md5: str | None = None):
    dirs = write_fake_inputs(tmp_path / "inputs")
    ablation = tmp_path / "inputs" / "source_ablation"
    ablation.mkdir()
    for name, record in records.items():
        write_record(ablation / f"{name}.json", record)
    return load_report_inputs(
        dirs["split"],
        dirs["models"],
        dirs["evaluation"],
        dirs["metrics"],
        dirs["analysis"],
        dirs["selection"],
        list(ARCHS),
        source_ablation_dir=ablation,
        split_dvc_md5=split_md5,
    )


def test_an_ablation_record_shows_its_arms_differences_and_verdict(tmp_path):
    hurts = judge(ARCHS[0], arms(60, 16, 30), ["handwritten"])
    inputs = inputs_with_ablation(tmp_path, {ARCHS[0]: hurts})
    paths = write_report(inputs, tmp_path / "out", "t", generated_at=WHEN)

    markdown = section(
        paths.markdown.read_text("utf-8"), "## Does the source data help?", "## Model selection"
    )
    assert f"### {ARCHS[0]}" in markdown
    assert "| Target only | 700 | 0 | 1.00% | 4.00% |" in markdown.replace("**", "")
    assert "| All training data | Target only | +11.00% |" in markdown
    assert "The source data hurts" in markdown
    html = section(paths.html.read_text("utf-8"), '<section id="source-data">', "</section>")
    assert "Source weighted (0.1)" in html and "spends capacity on the other one" in html
    others = ", ".join(name for name in ARCHS if name != ARCHS[0])
    assert f"Not measured for {others}" in html


def test_an_ablation_of_another_split_is_flagged_stale(tmp_path):
    record = judge(ARCHS[0], arms(20, 60, 40), ["handwritten"], split_dvc_md5="aaa.dir")
    fresh = write_report(
        inputs_with_ablation(tmp_path / "fresh", {ARCHS[0]: record}, "aaa.dir"),
        tmp_path / "out",
        "t",
    )
    assert "Stale" not in fresh.markdown.read_text("utf-8")
    stale = write_report(
        inputs_with_ablation(tmp_path / "stale", {ARCHS[0]: record}, "bbb.dir"),
        tmp_path / "out2",
        "t",
    )
    assert (
        "**Stale: these experiments trained on another split (aaa.dir) than this report's "
        "(bbb.dir)" in stale.markdown.read_text("utf-8")
    )


def test_without_records_the_section_says_how_to_measure_it(tmp_path):
    paths = write_report(load(write_fake_inputs(tmp_path / "inputs")), tmp_path / "out", "t")
    markdown = section(
        paths.markdown.read_text("utf-8"), "## Does the source data help?", "## Model selection"
    )
    lines = [line for line in markdown.splitlines()[1:] if line.strip()]
    assert len(lines) == 1 and "traindev source-ablation --arch NAME" in lines[0]


def test_a_record_of_another_architecture_is_an_error_naming_the_file(tmp_path):
    record = judge("resnet18", arms(20, 60, 40), ["handwritten"])
    with pytest.raises(ReportInputError, match=rf"{ARCHS[0]}\.json: architecture is 'resnet18'"):
        inputs_with_ablation(tmp_path, {ARCHS[0]: record})
