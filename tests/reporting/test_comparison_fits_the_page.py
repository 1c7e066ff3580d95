"""The architecture comparison fits the page in Chromium, without a scroll bar (issue 18: it
overflowed): on a wide screen, in a narrow window and printed, with every optional column."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.browser import HEIGHT, find_chromium, headless_chromium
from helpers.html import parse_html
from helpers.records import load, write_fake_inputs

from traindev.reporting.report import write_report

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium)"
)

# A wide screen; about half a laptop screen; an A4 page printed at 96 dpi.
VIEWS = [(1280, "screen"), (700, "screen"), (700, "print")]
WIDTHS = """(() => [...document.querySelectorAll("table.comparison")].map(
  t => ({table: t.scrollWidth, box: t.parentElement.clientWidth})))()"""


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("comparison")
    return write_report(load(write_fake_inputs(root / "inputs")), root / "out", "t").html


def test_the_fake_inputs_give_the_widest_comparison(report_html: Path) -> None:
    """Every optional column is there (small_cnn's error weights move its dev error)."""
    (header, *_), *_ = [rows for css, rows in parse_html(report_html.read_text()).tables
                        if css == "comparison"]  # fmt: skip
    assert len(header) == 9 and header[-1] == "Weighted dev error"


@pytest.mark.parametrize(("width", "media"), VIEWS, ids=[f"{w}-{m}" for w, m in VIEWS])
def test_the_comparison_table_fits_without_scrolling(
    report_html: Path, width: int, media: str
) -> None:
    with headless_chromium(CHROMIUM) as browser:
        page = browser.new_page()
        page.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        page.send("Emulation.setEmulatedMedia", media=media)
        page.open(report_html.as_uri())
        (measured,) = page.evaluate(WIDTHS)
    assert measured["table"] <= measured["box"], measured
