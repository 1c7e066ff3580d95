"""The report's Augmentation section: the preview grid when on, one line when off."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from helpers.image_stores import tiny_store
from helpers.records import load, write_fake_inputs

from traindev.config import AugmentParams
from traindev.data.augmentation import AugmentationPreview, preview
from traindev.reporting.report import write_report

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
PREVIEW_FILE = "augmentation_preview.png"


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


def test_the_preview_grid_is_in_both_reports_when_augmentation_is_on(tmp_path: Path) -> None:
    shown = preview(AugmentParams(enabled=True), tiny_store(12), seed=0, examples=2)
    inputs = replace(load(write_fake_inputs(tmp_path / "inputs")), augmentation=shown)
    paths = write_report(inputs, tmp_path / "out", "t", generated_at=WHEN)

    figure = paths.figures_dir / PREVIEW_FILE
    assert figure in paths.figures and figure.read_bytes().startswith(b"\x89PNG")
    html = section(paths.html.read_text("utf-8"), '<section id="augmentation">', "</section>")
    assert "train split only" in html and "FancyPCA: PCA colour augmentation" in html
    embedded = re.search(r'<img src="data:image/png;base64,([^"]+)" alt="Training images', html)
    assert embedded and base64.b64decode(embedded.group(1)) == figure.read_bytes()
    markdown = section(paths.markdown.read_text("utf-8"), "## Augmentation", "## Architecture")
    assert f"(figures/{PREVIEW_FILE})" in markdown and "RandomResizedCrop" in markdown


def test_the_section_says_off_in_one_line_when_augmentation_is_off(tmp_path: Path) -> None:
    inputs = replace(
        load(write_fake_inputs(tmp_path / "inputs")),
        augmentation=AugmentationPreview(enabled=False),
    )
    paths = write_report(inputs, tmp_path / "out", "t", generated_at=WHEN)
    assert not (paths.figures_dir / PREVIEW_FILE).exists()
    markdown = section(paths.markdown.read_text("utf-8"), "## Augmentation", "## Architecture")
    lines = [line for line in markdown.splitlines()[1:] if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Off:")
