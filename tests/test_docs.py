"""The README is a front page into the docs site, and no relative link in it or in docs/ dangles.

`mkdocs build --strict` (in `make test`) checks links between docs pages, anchors included; the
README lives outside the site, so it gets its own check here, with the same anchors mkdocs
makes (Python-Markdown's toc slugs).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from helpers.repository import PROJECT_ROOT
from markdown.extensions.toc import slugify
from markdown_it import MarkdownIt

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
PARSER = MarkdownIt("commonmark").enable("table")


def links(page: Path) -> list[str]:
    """Every link target and image source in the page, code blocks excluded."""
    found = []
    for token in PARSER.parse(page.read_text()):
        for child in token.children or []:
            if child.type == "link_open":
                found.append(str(child.attrs["href"]))
            elif child.type == "image":
                found.append(str(child.attrs["src"]))
    return found


def anchors(page: Path) -> set[str]:
    tokens = PARSER.parse(page.read_text())
    return {
        slugify(tokens[i + 1].content, "-")
        for i, token in enumerate(tokens)
        if token.type == "heading_open"
    }


def test_the_readme_is_a_front_page_of_at_most_10_kb() -> None:
    assert len(README.read_bytes()) <= 10 * 1024
    assert "make repro" in README.read_text() and "make test" in README.read_text()


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(PROJECT_ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or target.startswith("/"):
            continue  # a web address: not this check's business
        path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if not path.exists():
            broken.append(f"{target}: no {path}")
        elif parts.fragment and path.suffix == ".md" and parts.fragment not in anchors(path):
            broken.append(f"{target}: no heading #{parts.fragment} in {path.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_the_link_check_finds_a_dangling_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# There\n\n## A heading\n")
    page.write_text("[ok](there.md#a-heading) [gone](missing.md) [bad](there.md#nowhere)\n")
    assert links(page) == ["there.md#a-heading", "missing.md", "there.md#nowhere"]
    assert "a-heading" in anchors(tmp_path / "there.md")
    with pytest.raises(AssertionError, match=r"missing\.md.*nowhere"):
        test_every_relative_link_resolves(page)
