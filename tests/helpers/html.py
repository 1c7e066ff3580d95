"""Reading a rendered report back: its tables and its links."""

from __future__ import annotations

from html.parser import HTMLParser


class HtmlTables(HTMLParser):
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


def parse_html(html_text: str) -> HtmlTables:
    parser = HtmlTables()
    parser.feed(html_text)
    return parser


def tables(html_text: str, css: str) -> list[list[dict[str, str]]]:
    """Every table with that class, each as a list of {header: cell} rows."""
    found = []
    for table_css, (header, *rows) in parse_html(html_text).tables:
        if table_css == css:
            found.append([dict(zip(header, row, strict=True)) for row in rows])
    return found
