"""The report's Jinja2 templates: hostile text stays text in both formats, and the templates
ship inside the package."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import pytest
from helpers.html import parse_html
from helpers.records import load, write_fake_inputs
from helpers.repository import PROJECT_ROOT

from traindev.reporting.render import (
    Bullets,
    FigureBlock,
    Gallery,
    Heading,
    Link,
    Links,
    Paragraph,
    RenderedFigure,
    Table,
    Thumbnail,
    Tile,
)
from traindev.reporting.report import write_report
from traindev.reporting.templating import html_environment, markdown_environment, md_escape

WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
SCRIPT = "<script>alert(1)</script>"
PUNCTUATION = "a|b*c_"
PNG = b"\x89PNG\r\n\x1a\nnot really"


def hostile_blocks(text: str) -> list:
    """One block of every kind, each carrying `text` wherever a block carries text."""
    return [
        Heading(text, 3),
        Paragraph(text, "warning"),
        Paragraph(text),
        Bullets((text, "plain")),
        Links(text, (Link(text, "analysis/x.csv"),)),
        Table((text, "n"), ((text, "1"),), numeric=frozenset({1}), emphasis=("best",)),
        FigureBlock(RenderedFigure("f.png", text, PNG)),
        Gallery(
            (text,),
            (
                Tile((text,), Thumbnail("t/a.png", text, PNG)),
                Tile((text,), Thumbnail("t/b.png", text, None)),
            ),
        ),
    ]


def unescaped(char: str, markdown: str) -> list[str]:
    """Occurrences of `char` that no backslash escapes: what a Markdown reader would parse."""
    return re.findall(rf"(?<!\\){re.escape(char)}", markdown)


def render_blocks(environment, template: str, blocks: list, **context) -> str:
    module = environment.get_template(template).make_module(context)
    return str(module.blocks(blocks))


def test_every_html_block_escapes_hostile_text() -> None:
    page = render_blocks(html_environment(), "partials/blocks.html", hostile_blocks(SCRIPT))
    assert "<script" not in page
    # heading, 2 paragraphs, bullet, link lead and text, header, cell, figure alt, gallery
    # header twice (one per tile), caption cells, thumbnail alt and placeholder label
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 15
    parsed = parse_html(page)
    ((_, rows),) = parsed.tables
    assert rows == [[SCRIPT, "n"], [SCRIPT, "1"]]  # the parser unescapes: the text survived


def test_every_markdown_block_escapes_hostile_text() -> None:
    page = render_blocks(
        markdown_environment(),
        "partials/blocks.md",
        hostile_blocks(f"{SCRIPT} {PUNCTUATION}"),
        figures_dir="figures",
    )
    escaped = f"{md_escape(SCRIPT)} a\\|b\\*c\\_"
    assert escaped == "\\<script\\>alert(1)\\</script\\> a\\|b\\*c\\_"
    assert not unescaped("<", page) and PUNCTUATION not in page
    # as in HTML, less the thumbnail alt text and placeholder label that Markdown omits
    assert page.count(escaped) == 13
    assert f"| **{escaped}** | **1** |" in page  # the best row, bold cell by cell
    assert f"![{escaped}](figures/f.png)" in page
    assert f"| {escaped} | [{escaped}](t/a.png) |" in page
    assert f"| {escaped} | (missing) |" in page


def test_an_unknown_block_is_an_error_in_both_formats() -> None:
    with pytest.raises(TypeError, match="cannot render str as HTML"):
        render_blocks(html_environment(), "partials/blocks.html", ["not a block"])
    with pytest.raises(TypeError, match="cannot render str as Markdown"):
        render_blocks(markdown_environment(), "partials/blocks.md", ["x"], figures_dir="f")


def test_hostile_class_names_are_escaped_in_the_whole_report(tmp_path: Path) -> None:
    dirs = write_fake_inputs(tmp_path / "inputs")
    path = dirs["split"] / "summary.json"
    renamed = {"1": PUNCTUATION, "2": SCRIPT}
    summary = json.loads(path.read_text())
    for split in summary["counts"].values():
        for domain, counts in split.items():
            split[domain] = {renamed.get(label, label): count for label, count in counts.items()}
    path.write_text(json.dumps(summary))

    paths = write_report(load(dirs), tmp_path / "out", f"t {SCRIPT}", generated_at=WHEN)
    html_text, markdown = paths.html.read_text("utf-8"), paths.markdown.read_text("utf-8")

    assert "<script" not in html_text
    classes = next(rows for _, rows in parse_html(html_text).tables if rows[0][1] == "0")
    assert classes[0] == ["Split", "0", SCRIPT, PUNCTUATION]
    assert "<th>&lt;script&gt;alert(1)&lt;/script&gt;</th><th>a|b*c_</th>" in html_text

    header = "| Split | 0 | \\<script\\>alert(1)\\</script\\> | a\\|b\\*c\\_ |"
    assert header in markdown
    line = markdown.splitlines()[markdown.splitlines().index(header) + 2]
    cells = re.split(r"(?<!\\)\|", line)[1:-1]  # a Markdown reader splits on unescaped pipes
    assert [cell.strip() for cell in cells] == ["Train", "55", "45", "46"]
    assert f"# t {md_escape(SCRIPT)}" in markdown and not unescaped("<", markdown)


def ships(name: str, pattern: str) -> bool:
    """setuptools' package-data glob: "*" matches within one path component only."""
    path, glob = PurePosixPath(name), PurePosixPath(pattern)
    return len(path.parts) == len(glob.parts) and path.match(pattern)


def test_every_template_ships_as_package_data() -> None:
    """pyproject's package-data globs cover each file under templates/ (else an installed
    traindev cannot render), and the loader finds each template through the package."""
    setuptools = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = setuptools["package-data"]["traindev.reporting"]
    package = PROJECT_ROOT / "src" / "traindev" / "reporting"
    files = sorted(
        path.relative_to(package).as_posix()
        for path in (package / "templates").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    assert {"templates/report.html", "templates/report.md", "templates/sheet.html"} <= set(files)
    for name in files:
        assert any(ships(name, pattern) for pattern in globs), name
    listed = set(html_environment().list_templates())
    assert {name.removeprefix("templates/") for name in files} == listed
