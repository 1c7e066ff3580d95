"""The reproduced project's report.html in headless Chromium with the network shut: it asks
for nothing but itself and its data: URIs, every section is there, every image decodes, and
nothing is wider than the window. A screenshot of the whole page lands in test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.browser import WIDTH, find_chromium, headless_chromium
from helpers.repository import PROJECT_ROOT

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium)"),
]

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
ARCHITECTURES = ("deep_nn", "lenet5")  # tiny_params()
SECTIONS = {  # id: its h2 (the selection section's comes from its blocks)
    "splits": "Data splits",
    "augmentation": "Augmentation",
    "comparison": "Architecture comparison",
    "selection": "Model selection",
    "source-data": "Does the source data help?",
    **{f"arch-{arch}": arch for arch in ARCHITECTURES},
}
PAGE_FACTS = """(() => ({
  sections: Object.fromEntries([...document.querySelectorAll("body > section[id]")].map(
    s => [s.id, s.querySelector("h2")?.textContent.trim()])),
  images: [...document.images].map(i => i.complete && i.naturalWidth > 0),
  scripts: document.scripts.length,
  pageWidth: document.documentElement.scrollWidth,
}))()"""

CANARY = """<!DOCTYPE html><html><head><link rel="stylesheet" href="https://cdn.invalid/x.css">
</head><body><img src="http://example.invalid/x.png"><img src="data:image/png;base64,AA=="></body>
</html>"""


def test_report_opens_offline_with_every_section(reproduced_project, tmp_path, capsys) -> None:
    report = reproduced_project.root / "reports" / "report.html"
    canary = tmp_path / "canary.html"
    canary.write_text(CANARY)
    with headless_chromium(CHROMIUM) as browser:
        page = browser.new_page()
        page.open(report.as_uri())
        facts = page.evaluate(PAGE_FACTS)
        screenshot = page.screenshot(ARTIFACTS / "report.png")
        # The observer sees a page reaching out (else the check below could never fail).
        probe = browser.new_page()
        probe.open(canary.as_uri())

    with capsys.disabled():
        print(f"\nreport screenshot: {screenshot}")
    assert probe.requests[0] == canary.as_uri()
    assert {"https://cdn.invalid/x.css", "http://example.invalid/x.png"} <= set(probe.requests)

    own = report.as_uri()
    assert page.requests[0] == own
    assert [url for url in page.requests if url != own and not url.startswith("data:")] == []
    assert facts["sections"] == SECTIONS
    assert facts["scripts"] == 0
    assert len(facts["images"]) >= 1 + 3 * len(ARCHITECTURES) and all(facts["images"])
    assert facts["pageWidth"] <= WIDTH  # wide tables scroll inside their box, not the page
    assert screenshot.stat().st_size > 10_000 and Path(screenshot).read_bytes()[:4] == b"\x89PNG"
